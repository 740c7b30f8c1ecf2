"""The miner on properties of logs it was not tuned on: one test per failure class seen on
unseen systems (issue #14), readable templates, the token rules, and state compatibility."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.logparse import LOG_FORMATS, load_set, messages
from domain.aiops.logparse import LogTemplateMiner, MinerStateError, parse_log
from domain.aiops.logparse_masks import Masker
from domain.aiops.logparse_tokens import (
    LIST,
    WILD,
    collapse_lists,
    generalize,
    is_identifier,
    route_key,
    tokenize,
)

DATA = Path(__file__).parent / "data"


def mine(lines: list[str], **options: object) -> tuple[LogTemplateMiner, list[int]]:
    miner = LogTemplateMiner(**options)  # type: ignore[arg-type]
    return miner, miner.add_many(lines)


# --------------------------------------------------------------------------- 1. names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("to db-3.eu.example.net:6432 ok", "to <HOST> ok"),
        ("proxy.cse.cuhk.edu.hk:5070 open", "<HOST> open"),
        ("from www.google.com:443 closed", "from <HOST> closed"),
        ("rhost=220-135-151-1.hinet-ip.hinet.net user=x", "rhost=<HOST> user=x"),
        ("host 82-68-222-194.dsl.in-addr.zen.co.uk", "host <HOST>"),
        ("host aml-sfh-3310b.adsl.wanadoo.nl up", "host <HOST> up"),
        ("bundle org.vendor.agent.sync started", "bundle <HOST> started"),
        ("bundle com.apple.xpc.launchd started", "bundle <HOST> started"),
    ],
)
def test_a_dns_shaped_name_is_masked_as_a_host(text: str, expected: str) -> None:
    assert Masker().apply(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "at org.apache.hadoop.ipc.Client.call",
        "java.net.NoRouteToHostException: No Route",
        "mapred.tip.id is deprecated. Instead, use mapreduce.task.id",
        "wrote file-1.tar.gz",
        "workerEnv.init() ok",
        "spark.SecurityManager: Changing view acls",
    ],
)
def test_a_class_property_or_file_name_is_not_a_host(text: str) -> None:
    assert "<HOST>" not in Masker().apply(text)


def test_one_message_with_different_hosts_and_ports_is_one_template() -> None:
    lines = [
        f"{host} open through proxy {proxy} HTTPS"
        for host, proxy in [
            ("www.google.com:443", "proxy.cse.cuhk.edu.hk:5070"),
            ("db-3.eu.example.net:6432", "proxy.cse.cuhk.edu.hk:5070"),
            ("mail.example.org:993", "gw-1.corp.example.com:8080"),
            ("cdn.example.io:443", "proxy.cse.cuhk.edu.hk:5070"),
        ]
    ]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == "<HOST> open through proxy <HOST> HTTPS"


def test_a_reverse_dns_name_leading_a_message_does_not_split_it() -> None:
    names = ["org.vendor.agent.sync", "com.apple.cts", "com.vendor.updater", "io.example.app"]
    miner, ids = mine([f"{name}: scheduler activity ran for {n} s" for n, name in enumerate(names)])
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == "<HOST>: scheduler activity ran for <NUM> s"


# --------------------------------------------------------------------------- 2. token count


def test_a_query_string_does_not_change_the_token_count_of_a_request() -> None:
    lines = [
        '"GET /v2/servers/detail HTTP/1.1" status: 200 len: 1893',
        '"GET /v2/servers/detail?changes-since=2017-05-16T00:21:57Z HTTP/1.1" status: 200 len: 7',
        '"GET /v2/images/detail?limit=20&marker=x HTTP/1.1" status: 200 len: 1583',
    ]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == '"GET <PATH> HTTP/<NUM>" status: <NUM> len: <NUM>'


def test_a_call_paren_or_key_value_inside_a_value_keeps_one_token() -> None:
    lines = [
        "wakeup scheduled at 12:00:01",
        "wakeup scheduled at CLOCK(1)",
        "wakeup scheduled at 9",
    ]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == "wakeup scheduled at <*>"
    assert len(tokenize("by LOGIN(uid=0) tty=pts/0")[0]) == 3


# --------------------------------------------------------------------------- 3. digit words


def test_words_with_a_digit_are_not_variables_by_their_look() -> None:
    lines = ["HTTP2 stream opened", "eth0 stream opened", "HTTP2 stream opened"]
    miner, ids = mine(lines)
    assert ids[0] == ids[2] != ids[1]
    assert miner.template_text(ids[0]) == "HTTP2 stream opened"
    assert miner.template_text(ids[1]) == "eth0 stream opened"


def test_words_that_differ_only_in_their_digits_are_one_variable() -> None:
    miner, ids = mine(["eth0 link is up", "eth1 link is up", "R02-M1-N0 link is up"])
    assert ids[0] == ids[1] != ids[2]
    assert miner.template_text(ids[0]) == "eth<NUM> link is up"


def test_a_constant_with_a_digit_repeated_over_many_lines_stays_in_the_template() -> None:
    lines = [f"negotiated HTTP2 with peer {n}.{n}.1.1 in {n} ms" for n in range(1, 40)]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == "negotiated HTTP2 with peer <IP> in <DURATION>"


# --------------------------------------------------------------------------- 4. threshold


@pytest.mark.parametrize(
    "pair",
    [
        ("session opened by client alpha", "session opened by client beta"),
        ("worker started", "worker stopped"),
        ("Failed to open {x} [code {n}]", "Failed to read {x} [code {n}]"),
    ],
)
def test_distinct_messages_sharing_most_words_stay_apart(pair: tuple[str, str]) -> None:
    lines = [template.format(x=f"/data/f{n}.bin", n=n) for n in range(30) for template in pair]
    miner, ids = mine(lines)
    assert len(set(ids)) == 2
    assert len(set(ids[0::2])) == 1 and len(set(ids[1::2])) == 1
    assert all("<*>" not in miner.template_text(i).split()[:3] for i in set(ids))


@pytest.mark.parametrize("similarity_threshold", [0.3, 0.5, 0.7])
def test_a_position_showing_many_values_among_agreeing_lines_is_a_variable(
    similarity_threshold: float,
) -> None:
    users = ["root", "admin", "oracle", "test", "guest", "alice", "bob"]
    miner, ids = mine(
        [f"Invalid user {user} from 10.0.0.{n}" for n, user in enumerate(users)],
        similarity_threshold=similarity_threshold,
    )
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]) == "Invalid user <*> from <IP>"


def test_identifiers_with_a_masked_part_are_values_at_once() -> None:
    miner, ids = mine(
        [
            "Block rdd_2_2 stored as bytes in memory",
            "Block broadcast_9_piece0 stored as bytes in memory",
        ]
    )
    assert ids[0] == ids[1]
    assert miner.template_text(ids[0]) == "Block <*> stored as bytes in memory"


# --------------------------------------------------------------------------- 5. optional parts


def test_an_optional_variable_part_does_not_make_another_message() -> None:
    lines = [
        "www.google.com:443 close, 1190 bytes (1.16 KB) sent, 1671 bytes (1.63 KB) received, "
        "lifetime 00:03",
        "www.google.com:443 close, 0 bytes sent, 0 bytes received, lifetime <1 sec",
        "mail.example.org:993 close, 12 bytes sent, 4096 bytes (4 KB) received, lifetime 01:20",
    ]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    text = miner.template_text(ids[0])
    assert text.startswith("<HOST> close, ") and text.endswith(" received, lifetime <*>")
    assert "KB" not in text and "sec" not in text


def test_a_list_of_any_length_does_not_make_another_message() -> None:
    lines = [
        "plugins loaded: auth, cache",
        "plugins loaded: auth, cache, metrics, tracing",
        "plugins loaded: search, cache, metrics",
    ]
    miner, ids = mine(lines)
    assert len(set(ids)) == 1
    assert miner.template_text(ids[0]).startswith("plugins loaded: ")


# --------------------------------------------------------------------------- 6. readable text


def test_a_template_shows_variables_by_kind_where_a_mask_found_them() -> None:
    lines = [f"user u{n} from 10.1.{n}.2 via gw{n}.example.com took {n}" for n in range(5)]
    miner, ids = mine(lines)
    assert miner.template_text(ids[0]) == "user u<NUM> from <IP> via <HOST> took <NUM>"


def test_a_template_never_shows_a_constant_missing_from_a_line_of_its_group() -> None:
    protocols = ["HTTP2", "SPDY", "QUIC", "h3c"]
    lines = [f"served {proto} request {n} for client alpha ok" for n, proto in enumerate(protocols)]
    miner = LogTemplateMiner()
    first, text = miner.add(lines[0])
    assert text == "served HTTP2 request <NUM> for client alpha ok"
    ids = miner.add_many(lines[1:])
    assert set(ids) == {first}
    assert miner.template_text(first) == "served <*> request <NUM> for client alpha ok"


@pytest.mark.parametrize("name", list(LOG_FORMATS))
def test_every_constant_token_of_a_template_is_in_every_line_it_groups(
    benchmarks_dir: Path, name: str
) -> None:
    lines, _ = load_set(benchmarks_dir, name)
    result = parse_log(lines, LOG_FORMATS[name])
    for content, template in zip(
        result.columns["Content"], result.columns["EventTemplate"], strict=True
    ):
        for token in template.split():
            if "<" not in token:
                assert token in content, (template, content)


# --------------------------------------------------------------------------- token rules


@pytest.mark.parametrize(
    ("masked", "keys"),
    [
        ("eth0 HTTP2 R02-M1-N0", ["eth0", "HTTP0", "R0-M0-N0"]),
        ("\x02NUM\x03 /\x02IP\x03 (\x02SIZE\x03) -\x02NUM\x03", [WILD] * 4),
        ("blk_-\x02NUM\x03 uid=\x02NUM\x03", ["blk_" + WILD, "uid=" + WILD]),
        ("session fb0ad7e3 deadbeef", ["session", WILD, "deadbeef"]),
    ],
)
def test_keys_collapse_digits_and_placeholders(masked: str, keys: list[str]) -> None:
    assert tokenize(masked) == (masked.split(), keys)


@pytest.mark.parametrize(
    ("key", "route"),
    [("Received", "Received"), ("interrupt:", "interrupt:"), ("-", "-"), ("chrome.exe", WILD)],
)
def test_only_words_and_punctuation_route_by_their_key(key: str, route: str) -> None:
    assert route_key(key) == route


@pytest.mark.parametrize(
    ("first", "second", "merged"),
    [
        ("eth0", "eth1", "eth\x02NUM\x03"),
        ("user=root", "user=guest", "user=\x02*\x03"),
        ("\x02IP\x03", "\x02HOST\x03", WILD),
        ("blk_\x02NUM\x03", "blk_-\x02NUM\x03", "blk_\x02NUM\x03"),
        ("(a)", "[a]", WILD),
        ("same", "same", "same"),
    ],
)
def test_generalize_keeps_what_two_tokens_share(first: str, second: str, merged: str) -> None:
    assert generalize(first, second) == merged


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("rdd_" + WILD + "_" + WILD, True),
        ("node-" + WILD, True),
        ("(uid=" + WILD + ")", False),
        ("dcbf........." + WILD, False),
        ("plain", False),
    ],
)
def test_an_identifier_is_a_name_with_a_masked_part(key: str, expected: bool) -> None:
    assert is_identifier(key) is expected


@pytest.mark.parametrize(
    ("keys", "collapsed"),
    [
        (["loaded:", "a,", "b,", "c"], ["loaded:", LIST]),
        (["for", "[TERM,", "HUP]"], ["for", LIST]),
        (["close,", WILD, "bytes"], ["close,", WILD, "bytes"]),
        (["signal", WILD + ",", "code=" + WILD], ["signal", WILD + ",", "code=" + WILD]),
    ],
)
def test_lists_collapse_only_after_a_colon_or_inside_brackets(
    keys: list[str], collapsed: list[str]
) -> None:
    assert collapse_lists(keys) == collapsed


# --------------------------------------------------------------------------- state


def test_a_version_1_state_loads_and_routes_its_lines_to_the_same_ids(
    benchmarks_dir: Path,
) -> None:
    saved = json.loads((DATA / "logparse_state_v1.json").read_text(encoding="utf-8"))
    miner = LogTemplateMiner.from_state(saved["state"])
    assert miner.template_count == len(saved["texts"]) == 72
    assert {str(t.template_id): t.template for t in miner.templates()} == saved["texts"]
    contents: list[str] = []
    for source in saved["sources"]:
        lines, _ = load_set(benchmarks_dir, source["set"])
        contents += messages(lines[: source["first_lines"]], LOG_FORMATS[source["set"]])
    assert miner.add_many(contents) == saved["ids"]
    assert miner.lines_seen == 2 * len(contents)
    assert miner.template_count == 72


def test_an_upgraded_version_1_miner_puts_new_messages_in_new_ids_and_round_trips(
    benchmarks_dir: Path,
) -> None:
    saved = json.loads((DATA / "logparse_state_v1.json").read_text(encoding="utf-8"))
    miner = LogTemplateMiner.from_state(saved["state"])
    assert (miner.similarity_threshold, miner.depth) == (0.7, 4)  # v1 defaults upgraded
    lines, _ = load_set(benchmarks_dir, "Zookeeper")
    contents = messages(lines[:400], LOG_FORMATS["Zookeeper"])
    ids = miner.add_many(contents)
    assert min(ids) > 72
    state = json.loads(json.dumps(miner.to_state()))
    assert state["version"] == 2 and len(state["v1"]["templates"]) == 72
    restored = LogTemplateMiner.from_state(state)
    assert restored.templates() == miner.templates()
    assert restored.add_many(contents) == ids


def test_a_version_2_state_keeps_open_positions_and_merged_ids() -> None:
    lines = ["worker started", "worker stopped"] + [
        f"Invalid user u{c} from 1.2.3.4" for c in "abcde"
    ]
    miner, ids = mine(lines)
    assert ids[2] == ids[3] and miner.canonical_id(ids[2] + 1) == ids[2]
    state = json.loads(json.dumps(miner.to_state()))
    restored = LogTemplateMiner.from_state(state)
    assert restored.templates() == miner.templates()
    assert restored.add_many(lines) == ids
    assert restored.add_many(["worker paused"]) == [miner.last_template_id + 1]
    assert [restored.canonical_id(i) for i in range(1, miner.last_template_id + 1)] == [
        miner.canonical_id(i) for i in range(1, miner.last_template_id + 1)
    ]


def test_a_damaged_version_2_state_is_rejected() -> None:
    state = LogTemplateMiner().to_state()
    state["tree"] = {"clusters": "nope"}
    with pytest.raises(MinerStateError):
        LogTemplateMiner.from_state(state)
