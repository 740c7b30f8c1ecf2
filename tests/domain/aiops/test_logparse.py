"""Log template mining: formats, masks, the miner, its JSON state, and Loghub accuracy."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bench.logparse import LOG_FORMATS, load_scorer, load_set, messages
from domain.aiops.logparse import (
    DEFAULT_MASKS,
    LogFormatError,
    LogTemplateMiner,
    MaskError,
    MinerStateError,
    compile_log_format,
    parse_log,
)
from domain.aiops.logparse_masks import Masker, normalize_masks

# --------------------------------------------------------------------------- log formats


def test_a_log_format_compiles_to_an_anchored_regex_with_its_fields_in_order() -> None:
    pattern, fields = compile_log_format("<Date> <Time> <Level> <Component>: <Content>")
    assert fields == ("Date", "Time", "Level", "Component", "Content")
    match = pattern.match("17/06/09 20:10:40 INFO spark.SecurityManager: Changing view acls")
    assert match is not None
    assert match.group("Component") == "spark.SecurityManager"
    assert match.group("Content") == "Changing view acls"
    assert pattern.match("no header here") is None


def test_text_between_placeholders_is_a_regex() -> None:
    pattern, fields = compile_log_format(LOG_FORMATS["Linux"])
    assert fields[-2:] == ("PID", "Content")
    with_pid = pattern.match("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: check pass; x")
    without_pid = pattern.match("Jun 15 04:06:18 combo su(pam_unix): session opened")
    assert with_pid is not None and without_pid is not None
    assert (with_pid.group("PID"), with_pid.group("Component")) == ("19939", "sshd(pam_unix)")
    assert without_pid.group("PID") is None
    assert without_pid.group("Content") == "session opened"
    apache, _ = compile_log_format(LOG_FORMATS["Apache"])
    line = "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/x.properties"
    match = apache.match(line)
    assert match is not None and match.group("Level") == "notice"


def test_runs_of_spaces_in_a_format_match_any_whitespace() -> None:
    pattern, _ = compile_log_format("<Level>  <Content>")
    for line in ("INFO hello", "INFO \t  hello"):
        match = pattern.match(line)
        assert match is not None and match.group("Content") == "hello"


@pytest.mark.parametrize(
    ("log_format", "message"),
    [
        (r"<Date> (<Level> <Content>", "not a valid regex"),
        (r"<Date> [<Level> <Content>", "not a valid regex"),
        ("<Date> <Level>", "no <Content>"),
        ("<Date> <Date> <Content>", "appears twice"),
        ("<Da te> <Content>", "not a valid name"),
        ("   ", "empty"),
    ],
)
def test_an_invalid_log_format_raises_a_log_format_error_naming_the_problem(
    log_format: str, message: str
) -> None:
    with pytest.raises(LogFormatError, match=re.escape(message)) as caught:
        compile_log_format(log_format)
    assert isinstance(caught.value, ValueError)


# --------------------------------------------------------------------------- masks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from 10.251.73.220 ok", "from <IP> ok"),
        ("src: /10.251.73.220:50010 dest", "src: /<IP> dest"),
        ("ip6 fe80::1 and ::1", "ip6 <IP> and <IP>"),
        ("peer 2001:db8::ff00:42:8329 up", "peer <IP> up"),
        ("bind /0:0:0:0:0:0:0:0:2181 done", "bind /<IP> done"),
        ("mac 00:1a:2b:3c:4d:5e seen", "mac <MAC> seen"),
        ("val 0x1f3a", "val <HEX>"),
        ("iar 0245a0d8 dear", "iar <HEX> dear"),
        ("id 70293f72-844a-4b39-9ad6-fb0ad7e364e4.", "id <UUID>."),
        ("id fb0ad7e3-844a-4b39-9ad6-fb0ad7e364e4 x", "id <UUID> x"),
        ("n 42 3.14 and 1.2.3", "n <NUM> <NUM> and <NUM>"),
        ("blk_-1608999687919862906 ok", "blk_-<NUM> ok"),
        ("generating core.2275", "generating core.<NUM>"),
        ("open /etc/httpd/conf/workers2.properties now", "open <PATH> now"),
        ("run ./bin/start.sh and ~/x", "run <PATH> and <PATH>"),
        (r"log C:\Temp\x.log done", "log <PATH> done"),
        ("see http://wiki.apache.org/hadoop/NoRouteToHost, ok", "see <URL>, ok"),
        ("split: hdfs://10.10.34.11:9000/pjhe/test/1/112.txt:0+1", "split: <URL>"),
        ("took 12ms then 3.5s then 10min", "took <DURATION> then <DURATION> then <DURATION>"),
        ("size 10KB, 4 MiB, 16.0 KB, 2364 bytes", "size <SIZE>, <SIZE>, <SIZE>, <SIZE>"),
        ("at Sun Jul 10 03:55:15 2005", "at <DATETIME>"),
        ("Jun 14 15:16:01 combo", "<DATETIME> combo"),
        ("at 2015-10-18 18:01:47,978 ok", "at <DATETIME> ok"),
        ("at 2024-01-02T03:04:05.123Z ok", "at <DATETIME> ok"),
        ("on 2005.06.03 or 17/06/09", "on <DATE> or <DATE>"),
        ("at 03:55:15 now", "at <TIME> now"),
    ],
)
def test_each_default_mask_replaces_its_examples(text: str, expected: str) -> None:
    assert Masker().apply(text) == expected


def test_masks_leave_words_that_merely_contain_digits_or_slashes_alone() -> None:
    text = "jk2_init() ssh2 R02-M1-N0 and/or TCP/IP Mon Jan Foo::bar"
    assert Masker().apply(text) == text


def test_default_masks_are_named_patterns_that_compile() -> None:
    assert DEFAULT_MASKS
    for name, pattern in DEFAULT_MASKS:
        assert re.fullmatch(r"[A-Z]+", name)
        re.compile(pattern)
    assert {"IP", "HEX", "UUID", "NUM", "PATH", "URL", "DURATION", "SIZE", "DATETIME"} <= {
        name for name, _ in DEFAULT_MASKS
    }


def test_user_masks_run_before_the_defaults() -> None:
    masks = normalize_masks([{"name": "USER", "regex": r"\b(?:webmaster|bob)\b"}])
    masker = Masker(masks)
    assert masker.apply("Invalid user webmaster from 1.2.3.4") == "Invalid user <USER> from <IP>"
    assert Masker(masks, use_default_masks=False).apply("user bob 1.2.3.4") == "user <USER> 1.2.3.4"


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        ({"name": "BROKEN", "regex": "(unclosed"}, "BROKEN"),
        ({"name": "EMPTY", "regex": "a*"}, "EMPTY"),
        ({"name": "bad name", "regex": "x"}, "bad name"),
        ({"name": "NOREGEX"}, "NOREGEX"),
        ("just a string", "mask #1"),
    ],
)
def test_an_invalid_user_mask_raises_a_mask_error_naming_it(mask: object, message: str) -> None:
    with pytest.raises(MaskError, match=re.escape(message)) as caught:
        LogTemplateMiner(masks=[mask])  # type: ignore[list-item]
    assert isinstance(caught.value, ValueError)
    with pytest.raises(MaskError):
        parse_log(["x"], masks=[mask])  # type: ignore[list-item]


# --------------------------------------------------------------------------- the miner


def test_messages_of_one_event_share_a_template_with_placeholders() -> None:
    miner = LogTemplateMiner()
    users = ["webmaster", "test", "admin", "oracle", "guest"]
    ids = miner.add_many(
        [
            "Received block blk_123 of size 67108864 from /10.251.42.84",
            "Received block blk_-98 of size 3 from /10.250.19.102",
            *(f"Invalid user {user} from 173.234.31.{n}" for n, user in enumerate(users)),
            "PacketResponder 1 for block blk_38865049064139660 terminating",
        ]
    )
    # Three users are three messages until the fourth shows the position is a variable.
    assert ids == [1, 1, 2, 2, 2, 2, 2, 5]
    assert miner.template_text(1) == "Received block blk_<NUM> of size <NUM> from /<IP>"
    assert miner.template_text(2) == "Invalid user <*> from <IP>"
    assert miner.template_text(5) == "PacketResponder <NUM> for block blk_<NUM> terminating"
    assert [t.template_id for t in miner.templates()] == [1, 2, 5]
    assert [miner.canonical_id(i) for i in (3, 4)] == [2, 2]
    assert miner.template_info(3) == miner.template_info(2)


def test_tokens_split_on_whitespace_only_so_a_call_paren_stays_in_its_token() -> None:
    miner = LogTemplateMiner()
    first, _ = miner.add("session opened for user root by (uid=0)")
    second, text = miner.add("session opened for user root by LOGIN(uid=0)")
    assert first != second
    assert text == "session opened for user root by LOGIN(uid=<NUM>)"
    assert miner.template_text(first) == "session opened for user root by (uid=<NUM>)"


def test_template_statistics_track_count_and_first_and_last_line() -> None:
    miner = LogTemplateMiner()
    miner.add_many(["a job 1 done", "something else", "a job 2 done"])
    miner.add_many(["a job 3 done"])
    info = miner.template_info(1)
    assert (info.count, info.first_line, info.last_line) == (3, 1, 4)
    assert miner.lines_seen == 4
    assert [t.template_id for t in miner.templates()] == [1, 2]
    with pytest.raises(KeyError):
        miner.template_info(3)


def test_adding_one_by_one_or_in_bulk_gives_the_same_ids(benchmarks_dir: Path) -> None:
    lines, _ = load_set(benchmarks_dir, "OpenSSH")
    contents = messages(lines[:600], LOG_FORMATS["OpenSSH"])
    one_by_one = LogTemplateMiner()
    ids = [one_by_one.add(c)[0] for c in contents]
    # A merge caused by a later line re-points earlier ids; add_many reports them merged.
    assert ids != [one_by_one.canonical_id(i) for i in ids]
    assert [one_by_one.canonical_id(i) for i in ids] == LogTemplateMiner().add_many(contents)


def test_the_shape_cache_only_affects_speed(benchmarks_dir: Path) -> None:
    lines, _ = load_set(benchmarks_dir, "BGL")
    contents = messages(lines, LOG_FORMATS["BGL"])
    assert LogTemplateMiner(cache_size=1).add_many(contents) == LogTemplateMiner().add_many(
        contents
    )


@pytest.mark.parametrize(
    "options",
    [
        {"similarity_threshold": 0},
        {"similarity_threshold": 1.5},
        {"depth": 2},
        {"max_children": 1},
        {"cache_size": 0},
    ],
)
def test_out_of_range_miner_parameters_are_rejected(options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        LogTemplateMiner(**options)  # type: ignore[arg-type]


def test_non_ascii_replacement_and_control_characters_do_not_crash() -> None:
    lines = [
        "2024-01-02 INFO 用户 登录 成功 id=42",
        "2024-01-02 INFO 用户 登录 成功 id=43",
        "2024-01-02 WARN caf\ufffd\ufffd cr\u00e8me \U0001f600 at 10.0.0.1",
        "2024-01-02 WARN bad bytes \x00\x01\x02\x03 here",
        "2024-01-02 WARN ٣٤ Arabic-Indic digits",
        "",
        "   ",
    ]
    result = parse_log(lines, "<Date> <Level> <Content>")
    assert result.line_count == len(lines)
    assert result.unmatched_count == 2
    events = result.columns["EventId"]
    assert events[0] == events[1]
    assert result.columns["EventTemplate"][0] == "用户 登录 成功 id=<NUM>"
    templates = "".join(result.columns["EventTemplate"])
    assert not set(templates) & {"\x00", "\x01", "\x02", "\x03"}
    assert "\\u0000" not in json.dumps(result.miner.to_state())


# --------------------------------------------------------------------------- parse_log


def test_lines_that_do_not_match_the_format_are_kept_as_content() -> None:
    lines = [
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating\n",
        "java.io.IOException: Connection reset by peer",
        "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 terminating",
    ]
    result = parse_log(lines, LOG_FORMATS["HDFS"])
    assert (result.line_count, result.unmatched_count) == (3, 1)
    assert result.columns["Content"][1] == "java.io.IOException: Connection reset by peer"
    assert result.columns["Level"] == ["INFO", "", "INFO"]
    linux = parse_log(["Jun 15 04:06:18 combo su(pam_unix): session opened"], LOG_FORMATS["Linux"])
    assert linux.columns["PID"] == [""] and linux.unmatched_count == 0
    assert result.columns["EventId"][0] == result.columns["EventId"][2]
    assert result.columns["EventId"][1] != result.columns["EventId"][0]


def test_parse_result_columns_fit_structured_csv() -> None:
    result = parse_log(
        ["[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/w2.properties"] * 2,
        LOG_FORMATS["Apache"],
    )
    assert result.column_names == ["LineId", "Time", "Level", "Content", "EventId", "EventTemplate"]
    assert result.header_fields == ("Time", "Level", "Content")
    row = next(result.rows())
    assert row["LineId"] == 1 and row["EventId"] == "E1"
    assert row["EventTemplate"] == "workerEnv.init() ok <PATH>"
    (template,) = result.templates
    assert (template.count, template.first_line, template.last_line) == (2, 1, 2)
    assert template.is_new and result.new_template_ids == [1]
    without_format = parse_log(["plain message 7"])
    assert without_format.column_names == ["LineId", "Content", "EventId", "EventTemplate"]


def test_state_round_trip_through_json_keeps_ids_and_detects_new_templates() -> None:
    first_run = [
        "Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
        "Connection closed by 5.36.59.76 [preauth]",
        "Accepted password for fztu from 10.0.0.2 port 22 ssh2",
    ]
    second_run = [
        "Connection closed by 1.2.3.4 [preauth]",
        "Did not receive identification string from 95.152.57.58",
        "Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
    ]
    one = parse_log(first_run)
    state = json.loads(json.dumps(one.miner.to_state()))
    assert state["kind"] == "triops.logparse.miner" and state["version"] == 2
    restored = LogTemplateMiner.from_state(state)
    assert restored.templates() == one.miner.templates()
    two = parse_log(second_run, miner=restored)
    ids = dict(zip(first_run, one.columns["EventId"], strict=True))
    assert two.columns["EventId"][0] == ids[first_run[1]]
    assert two.columns["EventId"][2] == ids[first_run[0]]
    assert two.new_template_ids == [3]
    assert [t.template_id for t in two.templates if t.is_new] == [3]
    closed = next(t for t in two.templates if t.template_id == 2)
    assert (closed.count, closed.total_count, closed.first_line) == (1, 2, 1)
    assert restored.lines_seen == 6
    assert restored.template_info(2).last_line == 4


def test_a_restored_miner_assigns_the_same_ids_to_lines_it_has_seen(
    benchmarks_dir: Path,
) -> None:
    for name in ("HDFS", "Linux", "Hadoop"):
        lines, _ = load_set(benchmarks_dir, name)
        first = parse_log(lines, LOG_FORMATS[name], masks=[{"name": "PID", "regex": r"pid \d+"}])
        state = json.loads(json.dumps(first.miner.to_state()))
        again = parse_log(lines, LOG_FORMATS[name], miner=LogTemplateMiner.from_state(state))
        assert again.columns["EventId"] == first.columns["EventId"], name
        assert again.new_template_ids == []


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"kind": "something else"},
        {"kind": "triops.logparse.miner", "version": 99},
        {"kind": "triops.logparse.miner", "version": 1, "config": {}},
        {"kind": "triops.logparse.miner", "version": 2, "config": {}},
        "not a dict",
    ],
)
def test_a_state_that_is_not_a_miner_state_is_rejected(state: object) -> None:
    with pytest.raises(MinerStateError):
        LogTemplateMiner.from_state(state)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- quality


def test_mean_grouping_accuracy_on_the_loghub_sets_is_at_least_0_93(
    benchmarks_dir: Path,
) -> None:
    grouping_accuracy = load_scorer(benchmarks_dir)
    scores = {}
    for name, log_format in LOG_FORMATS.items():
        lines, truth = load_set(benchmarks_dir, name)
        result = parse_log(lines, log_format)
        predicted = dict(
            zip(map(str, result.columns["LineId"]), result.columns["EventId"], strict=True)
        )
        scores[name] = grouping_accuracy(truth, predicted)
    mean = sum(scores.values()) / len(scores)
    assert mean >= 0.93, scores
