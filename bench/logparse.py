"""Log template mining on the eight Loghub-2k sets: leave-one-system-out grouping accuracy,
speed against drain3, and cost per line as templates pile up.

Run: ``.venv/bin/python -m bench.logparse``. Prints markdown tables and writes
``var/bench/logparse.json``.

Every parser gets only each set's log format (the per-set table of bench/data/README.md):
no per-set masks, thresholds or depth. Grouping accuracy (GA) is ``grouping_accuracy`` of
the reference ``bench/data/score.py``, against the corrected ground truth.

**Leave-one-system-out (LOSO).** triops is scored on systems it has never seen, so the
miner's knobs (`GRID`) are chosen the way they would be for a new system: for each of
the eight sets, the configuration with the best mean GA over the *other seven* is chosen
(ties: the better worst set among the seven, then the earlier grid entry) and the
held-out set is scored with it. The LOSO mean and worst held-out set estimate what an
unseen system gets; the in-sample mean is GA with the shipped defaults (chosen on all
eight). Rules without a free parameter (masks, whitespace tokens, skeleton joins) have
LOSO = in-sample; the ablation table shows what each one is worth.

**Speed** compares like with like, in this process and on the same messages (the
``Content`` field, extracted once beforehand): our mining step,
``LogTemplateMiner().add_many``, and drain3's ``TemplateMiner.add_log_message`` in a loop,
both from an empty miner, alternately (ABAB), ``REPEATS`` times; the best run counts (the
machine is shared). "end to end", for information, starts from the raw lines: our whole
``parse_log`` against the format regex plus drain3.

**Replay.** `replay_lines` makes synthetic lines from 4,000 templates that come into use
evenly (random words, numbers, IPs, hex ids, user names, paths); after a 20,000-line
warm-up, one miner takes 200,000 lines in 20,000-line batches, and the lines/s of each
batch (best of ``REPEATS`` fresh runs) show whether the cost per line grows with the
number of templates seen (compare the first and the last batch).
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import logging
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.data import REPO_ROOT, benchmarks_dir
from domain.aiops.logparse import (
    DEFAULT_DEPTH,
    DEFAULT_SIMILARITY_THRESHOLD,
    DEFAULT_VARIABLE_VALUES,
    LogTemplateMiner,
    compile_log_format,
    parse_log,
)
from domain.aiops.logparse_format import CONTENT_FIELD
from domain.aiops.logparse_masks import Masker

OUT = REPO_ROOT / "var" / "bench" / "logparse.json"
REPEATS = 5
GA_TARGET = 0.93

#: Log formats of the Loghub sets (facts from the public Drain benchmark settings).
LOG_FORMATS: dict[str, str] = {
    "HDFS": r"<Date> <Time> <Pid> <Level> <Component>: <Content>",
    "Hadoop": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
    "Spark": r"<Date> <Time> <Level> <Component>: <Content>",
    "Zookeeper": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
    "BGL": r"<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> "
    r"<Content>",
    "Apache": r"\[<Time>\] \[<Level>\] <Content>",
    "OpenSSH": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
    "Linux": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
}

#: The knobs and their candidate values: a handful each, spanning the plausible range
#: (Drain uses 0.4 and depth 4; 2 distinct values is Drain's "any difference is a
#: variable"). Ties go to the earlier entry, so depth lists Drain's 4 first.
GRID: dict[str, tuple[Any, ...]] = {
    "similarity_threshold": (0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
    "variable_values": (2, 3, 4, 5, 6),
    "depth": (4, 3, 5),
}
SIMILARITY_SWEEP = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
"""The similarity thresholds whose in-sample mean GA the report shows (the plateau)."""

DEFAULTS: dict[str, Any] = {
    "similarity_threshold": DEFAULT_SIMILARITY_THRESHOLD,
    "variable_values": DEFAULT_VARIABLE_VALUES,
    "depth": DEFAULT_DEPTH,
}

Scorer = Callable[[dict[str, str], dict[str, str]], float]
Sets = dict[str, tuple[list[str], dict[str, str]]]


def load_scorer(root: Path) -> Scorer:
    """``grouping_accuracy(truth, pred)`` from the reference ``bench/data/score.py``."""
    spec = importlib.util.spec_from_file_location("reference_score", root / "score.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {root / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scorer: Scorer = module.grouping_accuracy
    return scorer


def load_set(root: Path, name: str) -> tuple[list[str], dict[str, str]]:
    """Raw lines of ``<name>_2k.log`` and the ground truth ``{LineId: EventId}``."""
    folder = root / "loghub" / name
    text = (folder / f"{name}_2k.log").read_text(encoding="utf-8", errors="replace")
    with open(
        folder / f"{name}_2k.log_structured_corrected.csv", encoding="utf-8", errors="replace"
    ) as handle:
        truth = {row["LineId"]: row["EventId"] for row in csv.DictReader(handle)}
    return text.splitlines(), truth


def messages(lines: Sequence[str], log_format: str) -> list[str]:
    """The Content field of each line (the whole line when it does not match)."""
    pattern, _ = compile_log_format(log_format)
    out = []
    for line in lines:
        match = pattern.match(line.strip())
        out.append(line.strip() if match is None else match.group(CONTENT_FIELD))
    return out


def load_sets(root: Path) -> Sets:
    """Every set's messages and ground truth."""
    sets: Sets = {}
    for name, log_format in LOG_FORMATS.items():
        lines, truth = load_set(root, name)
        sets[name] = (messages(lines, log_format), truth)
    return sets


def _ga(scorer: Scorer, truth: dict[str, str], ids: Sequence[int]) -> float:
    return float(scorer(truth, {str(i): str(t) for i, t in enumerate(ids, start=1)}))


def grouping(sets: Sets, scorer: Scorer, make: Callable[[], LogTemplateMiner]) -> dict[str, float]:
    """GA per set of the miners ``make`` returns (a fresh one per set)."""
    return {
        name: round(_ga(scorer, truth, make().add_many(contents)), 4)
        for name, (contents, truth) in sets.items()
    }


def _config_name(config: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in config.items())


def grid_scores(sets: Sets, scorer: Scorer) -> list[tuple[dict[str, Any], dict[str, float]]]:
    """GA per set for every configuration of `GRID`, in grid order."""
    out = []
    for values in itertools.product(*GRID.values()):
        config = dict(zip(GRID, values, strict=True))
        out.append((config, grouping(sets, scorer, partial(LogTemplateMiner, **config))))
    return out


def choose(
    table: Sequence[tuple[dict[str, Any], dict[str, float]]], names: Sequence[str]
) -> tuple[dict[str, Any], float]:
    """The configuration with the best mean GA over ``names`` (ties: better worst set,
    then grid order), and that mean."""
    best: tuple[float, float, int] | None = None
    chosen: dict[str, Any] = {}
    for order, (config, scores) in enumerate(table):
        values = [scores[name] for name in names]
        rank = (sum(values) / len(values), min(values), -order)
        if best is None or rank > best:
            best, chosen = rank, config
    assert best is not None
    return chosen, best[0]


def leave_one_system_out(
    table: Sequence[tuple[dict[str, Any], dict[str, float]]], names: Sequence[str]
) -> list[dict[str, Any]]:
    """One fold per held-out set: the configuration chosen on the others and its GA there."""
    folds = []
    for held_out in names:
        training = [name for name in names if name != held_out]
        config, training_mean = choose(table, training)
        scores = next(s for c, s in table if c == config)
        folds.append(
            {
                "held_out": held_out,
                "chosen": config,
                "training_mean_ga": round(training_mean, 4),
                "held_out_ga": scores[held_out],
            }
        )
    return folds


class _NoSkeletons(dict[Any, int]):
    """A skeleton index that never finds anything (ablation of token-count-free joins)."""

    def get(self, key: Any, default: Any = None) -> Any:
        return None

    def __setitem__(self, key: Any, value: int) -> None:
        pass

    def setdefault(self, key: Any, default: Any = None) -> Any:
        return default


def _ablated(rule: str) -> Callable[[], LogTemplateMiner]:
    def make() -> LogTemplateMiner:
        miner = LogTemplateMiner(
            variable_values=2 if rule == "open positions" else DEFAULTS["variable_values"]
        )
        if rule == "v2 masks (HOST, query strings, spaced durations, long MACs)":
            miner._masker = Masker(version=1)
        if rule == "skeleton joins":
            miner._tree.skeletons = _NoSkeletons()
        return miner

    return make


ABLATIONS = (
    "v2 masks (HOST, query strings, spaced durations, long MACs)",
    "skeleton joins",
    "open positions",
)


def _drain3_miner() -> Any:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    return TemplateMiner(config=TemplateMinerConfig())  # drain3 defaults, no .ini, no masks


def drain3_ids(contents: Sequence[str]) -> list[int]:
    """drain3 cluster id of each message, from a default miner."""
    miner = _drain3_miner()
    return [miner.add_log_message(content)["cluster_id"] for content in contents]


def evaluate_set(root: Path, name: str, scorer: Scorer) -> dict[str, Any]:
    """GA of both parsers (defaults) and their speed on one set."""
    lines, truth = load_set(root, name)
    log_format = LOG_FORMATS[name]
    result = parse_log(lines, log_format)
    ours = dict(zip(map(str, result.columns["LineId"]), result.columns["EventId"], strict=True))
    contents = messages(lines, log_format)
    theirs = {str(i): str(c) for i, c in enumerate(drain3_ids(contents), start=1)}

    runs: dict[str, list[float]] = {"ours": [], "drain3": [], "ours_e2e": [], "drain3_e2e": []}
    for _ in range(REPEATS):
        start = time.perf_counter()
        LogTemplateMiner().add_many(contents)
        runs["ours"].append(time.perf_counter() - start)
        miner = _drain3_miner()
        start = time.perf_counter()
        for content in contents:
            miner.add_log_message(content)
        runs["drain3"].append(time.perf_counter() - start)
        start = time.perf_counter()
        parse_log(lines, log_format)
        runs["ours_e2e"].append(time.perf_counter() - start)
        miner = _drain3_miner()
        start = time.perf_counter()
        for content in messages(lines, log_format):
            miner.add_log_message(content)
        runs["drain3_e2e"].append(time.perf_counter() - start)
    best = {key: min(values) for key, values in runs.items()}
    return {
        "set": name,
        "lines": len(lines),
        "unmatched_lines": result.unmatched_count,
        "templates_truth": len(set(truth.values())),
        "templates_ours": len(result.templates),
        "templates_drain3": len(set(theirs.values())),
        "ga_ours": round(scorer(truth, ours), 4),
        "ga_drain3": round(scorer(truth, theirs), 4),
        "lines_per_s_ours": round(len(contents) / best["ours"]),
        "lines_per_s_drain3": round(len(contents) / best["drain3"]),
        "speed_ratio": round(best["drain3"] / best["ours"], 2),
        "speed_ratio_end_to_end": round(best["drain3_e2e"] / best["ours_e2e"], 2),
        "seconds_ours": best["ours"],
        "seconds_drain3": best["drain3"],
        "seconds_ours_end_to_end": best["ours_e2e"],
        "seconds_drain3_end_to_end": best["drain3_e2e"],
    }


_WORDS = [
    "alpha",
    "bravo",
    "charlie",
    "delta",
    "echo",
    "foxtrot",
    "golf",
    "hotel",
    "india",
    "juliet",
    "kilo",
    "lima",
    "mike",
    "november",
    "oscar",
    "papa",
    "quebec",
    "romeo",
    "sierra",
    "tango",
    "uniform",
    "victor",
    "whiskey",
    "xray",
    "yankee",
    "zulu",
    "request",
    "session",
    "worker",
    "queue",
    "cache",
    "index",
    "shard",
    "replica",
    "leader",
    "follower",
    "commit",
    "rollback",
    "flush",
    "compaction",
    "snapshot",
    "lease",
    "token",
    "channel",
    "socket",
    "stream",
    "buffer",
    "frame",
    "packet",
    "route",
    "table",
    "volume",
    "mount",
    "device",
    "driver",
    "module",
    "kernel",
    "thread",
    "process",
    "signal",
    "timer",
    "clock",
    "job",
    "task",
    "started",
    "stopped",
    "failed",
    "retried",
    "accepted",
    "rejected",
    "opened",
    "closed",
    "created",
    "deleted",
    "updated",
    "loaded",
    "saved",
    "sent",
    "received",
    "dropped",
    "skipped",
    "expired",
    "renewed",
    "granted",
    "denied",
]
ACTIVE = 400
_USERS = ("root", "admin", "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")


def replay_lines(count: int = 200_000, templates: int = 4_000, seed: int = 7) -> list[str]:
    """Synthetic log messages from ``templates`` templates coming into use evenly.

    Each template is 3 to 12 random words with one to three variable slots (a number, an
    IP, a hex id, a user name or a path). Line ``i`` draws uniformly from a window of the
    ``ACTIVE`` templates introduced last; the window slides from the first ``ACTIVE`` to
    the last, so templates come into use at an even rate, every batch sees the same mix
    of old and new ones, and only the number of templates seen before differs.
    """
    rng = random.Random(seed)
    slots = ("{num}", "{ip}", "{hex}", "user {user}", "{path}")
    shapes = []
    for _ in range(templates):
        words = [rng.choice(_WORDS) for _ in range(rng.randint(3, 12))]
        for _ in range(rng.randint(1, 3)):
            words.insert(rng.randint(1, len(words)), rng.choice(slots))
        shapes.append(" ".join(words))
    out = []
    for i in range(count):
        known = ACTIVE + i * (templates - ACTIVE) // count
        index = known - 1 - rng.randrange(ACTIVE)
        out.append(
            shapes[index].format(
                num=rng.randint(0, 99_999),
                ip=f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                hex=f"0x{rng.getrandbits(32):08x}",
                user=rng.choice(_USERS),
                path=f"/var/data/{rng.choice(_WORDS)}/{rng.randint(0, 999)}.log",
            )
        )
    return out


def replay(batch: int = 20_000, lines: int = 200_000) -> dict[str, Any]:
    """Lines/s of the first and last ``batch`` lines of a ``lines``-line replay on one miner.

    `replay_lines` makes a warm-up batch (which brings the first ``ACTIVE`` templates
    into use, so the first measured batch has the same mix as any other) and then the
    measured lines; each measured batch is timed separately.
    """
    stream = replay_lines(lines + batch)
    warm_up, measured = stream[:batch], stream[batch:]
    batches = [measured[i : i + batch] for i in range(0, len(measured), batch)]
    seconds: list[list[float]] = [[] for _ in batches]
    templates = [0] * len(batches)
    for _ in range(REPEATS):
        miner = LogTemplateMiner()
        miner.add_many(warm_up)
        for index, chunk in enumerate(batches):
            start = time.perf_counter()
            miner.add_many(chunk)
            seconds[index].append(time.perf_counter() - start)
            templates[index] = miner.template_count
    per_batch = [round(batch / min(runs)) for runs in seconds]
    return {
        "lines": len(measured),
        "batch": batch,
        "templates_after_batch": templates,
        "templates_at_end": templates[-1],
        "lines_per_s_per_batch": per_batch,
        "lines_per_s_first_batch": per_batch[0],
        "lines_per_s_last_batch": per_batch[-1],
        "last_over_first": round(per_batch[-1] / per_batch[0], 2),
    }


def run(root: Path | None = None) -> dict[str, Any]:
    """Every table of the module doc; the report written to `OUT`."""
    root = root or benchmarks_dir()
    scorer = load_scorer(root)
    logging.getLogger("drain3").setLevel(logging.WARNING)
    sets = load_sets(root)
    names = list(sets)
    table = grid_scores(sets, scorer)
    folds = leave_one_system_out(table, names)
    in_sample_choice, _ = choose(table, names)
    defaults = grouping(sets, scorer, LogTemplateMiner)
    sweep = {
        str(value): round(
            sum(
                grouping(
                    sets, scorer, partial(LogTemplateMiner, similarity_threshold=value)
                ).values()
            )
            / len(names),
            4,
        )
        for value in SIMILARITY_SWEEP
    }
    ablation = {rule: grouping(sets, scorer, _ablated(rule)) for rule in ABLATIONS}
    rows = [evaluate_set(root, name, scorer) for name in names]
    lines = sum(row["lines"] for row in rows)
    ours_s = sum(row["seconds_ours"] for row in rows)
    drain3_s = sum(row["seconds_drain3"] for row in rows)
    end_to_end_s = sum(row["seconds_ours_end_to_end"] for row in rows)
    drain3_end_to_end_s = sum(row["seconds_drain3_end_to_end"] for row in rows)
    loso_scores = [fold["held_out_ga"] for fold in folds]
    in_sample = sum(defaults.values()) / len(defaults)
    return {
        "benchmark": "loghub-2k grouping accuracy (LOSO), mining speed vs drain3, 200k replay",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "drain3": metadata.version("drain3"),
        "repeats": REPEATS,
        "grid": {key: list(values) for key, values in GRID.items()},
        "defaults": DEFAULTS,
        "in_sample_choice": in_sample_choice,
        "loso": folds,
        "loso_mean_ga": round(sum(loso_scores) / len(loso_scores), 4),
        "loso_worst": min(folds, key=lambda fold: fold["held_out_ga"]),
        "in_sample_ga": defaults,
        "in_sample_mean_ga": round(in_sample, 4),
        "similarity_sweep_in_sample": sweep,
        "ablation": {
            rule: {"sets": scores, "mean_ga": round(sum(scores.values()) / len(scores), 4)}
            for rule, scores in ablation.items()
        },
        "sets": rows,
        "mean_ga_drain3": round(sum(row["ga_drain3"] for row in rows) / len(rows), 4),
        "ga_target": GA_TARGET,
        "lines_per_s_ours": round(lines / ours_s),
        "lines_per_s_drain3": round(lines / drain3_s),
        "speed_ratio": round(drain3_s / ours_s, 2),
        "speed_ratio_end_to_end": round(drain3_end_to_end_s / end_to_end_s, 2),
        "replay": replay(),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as markdown tables."""
    names = [row["set"] for row in report["sets"]]
    out = [
        "### Leave one system out",
        "",
        "| held-out set | chosen on the other seven | their mean GA | held-out GA |",
        "|---|---|---:|---:|",
    ]
    for fold in report["loso"]:
        out.append(
            f"| {fold['held_out']} | {_config_name(fold['chosen'])} "
            f"| {fold['training_mean_ga']:.4f} | {fold['held_out_ga']:.4f} |"
        )
    worst = report["loso_worst"]
    sweep = report["similarity_sweep_in_sample"]
    out_sweep = [
        "",
        "Similarity threshold, in-sample mean GA with the other defaults (the plateau):",
        "",
        "| " + " | ".join(sweep) + " |",
        "|" + "---:|" * len(sweep),
        "| " + " | ".join(f"{v:.4f}" for v in sweep.values()) + " |",
    ]
    out += [
        f"| **LOSO mean** | | | **{report['loso_mean_ga']:.4f}** |",
        "",
        f"Worst held-out set: {worst['held_out']} {worst['held_out_ga']:.4f}. "
        f"In-sample mean GA with the defaults ({_config_name(report['defaults'])}): "
        f"**{report['in_sample_mean_ga']:.4f}** (best on all eight: "
        f"{_config_name(report['in_sample_choice'])}).",
        "",
        "### Ablation (defaults without one rule; in-sample, these rules have no knob)",
        "",
        "| without | " + " | ".join(names) + " | mean |",
        "|---|" + "---:|" * (len(names) + 1),
        "| (nothing: defaults) | "
        + " | ".join(f"{report['in_sample_ga'][n]:.3f}" for n in names)
        + f" | {report['in_sample_mean_ga']:.4f} |",
    ]
    for rule, item in report["ablation"].items():
        out.append(
            f"| {rule} | "
            + " | ".join(f"{item['sets'][n]:.3f}" for n in names)
            + f" | {item['mean_ga']:.4f} |"
        )
    out += [
        "",
        "### Defaults against drain3 (same process, best of alternating runs)",
        "",
        "| set | GA ours | GA drain3 | templates ours/truth | lines/s ours | lines/s drain3 "
        "| ratio | end-to-end ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["sets"]:
        out.append(
            f"| {row['set']} | {row['ga_ours']:.4f} | {row['ga_drain3']:.4f} "
            f"| {row['templates_ours']}/{row['templates_truth']} "
            f"| {row['lines_per_s_ours']:,} | {row['lines_per_s_drain3']:,} "
            f"| {row['speed_ratio']:.2f} | {row['speed_ratio_end_to_end']:.2f} |"
        )
    out.append(
        f"| **all** | **{report['in_sample_mean_ga']:.4f}** | **{report['mean_ga_drain3']:.4f}** "
        f"| | {report['lines_per_s_ours']:,} | {report['lines_per_s_drain3']:,} "
        f"| **{report['speed_ratio']:.2f}** | {report['speed_ratio_end_to_end']:.2f} |"
    )
    replayed = report["replay"]
    out += [
        "",
        f"### Replay: {replayed['lines']:,} synthetic lines after a warm-up, "
        f"{replayed['templates_at_end']:,} templates at the end",
        "",
        "| batch (20k lines) | "
        + " | ".join(str(i + 1) for i in range(len(replayed["lines_per_s_per_batch"])))
        + " |",
        "|---|" + "---:|" * len(replayed["lines_per_s_per_batch"]),
        "| templates after it | "
        + " | ".join(f"{n:,}" for n in replayed["templates_after_batch"])
        + " |",
        "| lines/s | " + " | ".join(f"{n:,}" for n in replayed["lines_per_s_per_batch"]) + " |",
        "",
        f"Last batch / first batch: {replayed['last_over_first']:.2f}.",
    ]
    return "\n".join(out + out_sweep)


def main() -> None:
    """Run the benchmark, print the tables, write `OUT`."""
    report = run()
    print(markdown(report))
    print(
        f"\nLOSO mean GA {report['loso_mean_ga']:.4f}, worst held-out "
        f"{report['loso_worst']['held_out_ga']:.4f}, in-sample {report['in_sample_mean_ga']:.4f}; "
        f"mining speed ratio ours/drain3 {report['speed_ratio']:.2f}"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO_ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
