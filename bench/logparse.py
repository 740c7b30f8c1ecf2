"""Log template mining on the eight Loghub-2k sets: grouping accuracy and speed vs drain3.

Run: ``.venv/bin/python -m bench.logparse``. Prints a markdown table and writes
``var/bench/logparse.json``.

Both parsers get only each set's log format (the per-set table of bench/data/README.md) and
their defaults: no per-set masks, thresholds or depth. Grouping accuracy (GA) is computed
with ``grouping_accuracy`` of the reference ``bench/data/score.py``, against the corrected
ground truth.

Speed compares like with like, in this process and on the same messages (the ``Content``
field, extracted once beforehand): our mining step, ``LogTemplateMiner().add_many``, and
drain3's ``TemplateMiner.add_log_message`` in a loop, both from an empty miner. Each is
timed ``REPEATS`` times, alternately, and the best run counts (the machine is shared).
"end to end", for information, starts from the raw lines: our whole ``parse_log``
(format regex, mining, ``structured.csv`` columns) against the format regex plus drain3.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.data import REPO_ROOT, benchmarks_dir
from domain.aiops.logparse import LogTemplateMiner, compile_log_format, parse_log
from domain.aiops.logparse_format import CONTENT_FIELD

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


def load_scorer(root: Path) -> Callable[[dict[str, str], dict[str, str]], float]:
    """``grouping_accuracy(truth, pred)`` from the reference ``bench/data/score.py``."""
    spec = importlib.util.spec_from_file_location("reference_score", root / "score.py")
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {root / 'score.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    scorer: Callable[[dict[str, str], dict[str, str]], float] = module.grouping_accuracy
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


def _drain3_miner() -> Any:
    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    return TemplateMiner(config=TemplateMinerConfig())  # drain3 defaults, no .ini, no masks


def drain3_ids(contents: Sequence[str]) -> list[int]:
    """drain3 cluster id of each message, from a default miner."""
    miner = _drain3_miner()
    return [miner.add_log_message(content)["cluster_id"] for content in contents]


def _best_seconds(runs: list[float]) -> float:
    return min(runs)


def evaluate_set(
    root: Path, name: str, scorer: Callable[[dict[str, str], dict[str, str]], float]
) -> dict[str, Any]:
    """GA of both parsers and their speed on one set."""
    lines, truth = load_set(root, name)
    log_format = LOG_FORMATS[name]
    result = parse_log(lines, log_format)
    ours = dict(zip(map(str, result.columns["LineId"]), result.columns["EventId"], strict=True))
    contents = messages(lines, log_format)
    theirs = {str(i): str(c) for i, c in enumerate(drain3_ids(contents), start=1)}

    ours_runs: list[float] = []
    drain3_runs: list[float] = []
    end_to_end_runs: list[float] = []
    drain3_end_to_end_runs: list[float] = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        LogTemplateMiner().add_many(contents)
        ours_runs.append(time.perf_counter() - start)
        miner = _drain3_miner()
        start = time.perf_counter()
        for content in contents:
            miner.add_log_message(content)
        drain3_runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        parse_log(lines, log_format)
        end_to_end_runs.append(time.perf_counter() - start)
        miner = _drain3_miner()
        start = time.perf_counter()
        for content in messages(lines, log_format):
            miner.add_log_message(content)
        drain3_end_to_end_runs.append(time.perf_counter() - start)
    ours_s = _best_seconds(ours_runs)
    drain3_s = _best_seconds(drain3_runs)
    end_to_end_s = _best_seconds(end_to_end_runs)
    drain3_end_to_end_s = _best_seconds(drain3_end_to_end_runs)
    return {
        "set": name,
        "lines": len(lines),
        "unmatched_lines": result.unmatched_count,
        "templates_truth": len(set(truth.values())),
        "templates_ours": len(result.templates),
        "templates_drain3": len(set(theirs.values())),
        "ga_ours": round(scorer(truth, ours), 4),
        "ga_drain3": round(scorer(truth, theirs), 4),
        "lines_per_s_ours": round(len(contents) / ours_s),
        "lines_per_s_drain3": round(len(contents) / drain3_s),
        "speed_ratio": round(drain3_s / ours_s, 2),
        "lines_per_s_ours_end_to_end": round(len(lines) / end_to_end_s),
        "lines_per_s_drain3_end_to_end": round(len(lines) / drain3_end_to_end_s),
        "speed_ratio_end_to_end": round(drain3_end_to_end_s / end_to_end_s, 2),
        "seconds_ours": ours_s,
        "seconds_drain3": drain3_s,
        "seconds_ours_end_to_end": end_to_end_s,
        "seconds_drain3_end_to_end": drain3_end_to_end_s,
    }


def run(root: Path | None = None) -> dict[str, Any]:
    """Evaluate every set; return the report written to `OUT`."""
    root = root or benchmarks_dir()
    scorer = load_scorer(root)
    logging.getLogger("drain3").setLevel(logging.WARNING)
    rows = [evaluate_set(root, name, scorer) for name in LOG_FORMATS]
    lines = sum(row["lines"] for row in rows)
    ours_s = sum(row["seconds_ours"] for row in rows)
    drain3_s = sum(row["seconds_drain3"] for row in rows)
    end_to_end_s = sum(row["seconds_ours_end_to_end"] for row in rows)
    drain3_end_to_end_s = sum(row["seconds_drain3_end_to_end"] for row in rows)
    mean_ours = sum(row["ga_ours"] for row in rows) / len(rows)
    return {
        "benchmark": "loghub-2k grouping accuracy and mining speed",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "drain3": metadata.version("drain3"),
        "repeats": REPEATS,
        "defaults": {"similarity_threshold": 0.4, "depth": 4, "masks": "DEFAULT_MASKS"},
        "sets": rows,
        "mean_ga_ours": round(mean_ours, 4),
        "mean_ga_drain3": round(sum(row["ga_drain3"] for row in rows) / len(rows), 4),
        "ga_target": GA_TARGET,
        "ga_target_met": mean_ours >= GA_TARGET,
        "lines_per_s_ours": round(lines / ours_s),
        "lines_per_s_drain3": round(lines / drain3_s),
        "speed_ratio": round(drain3_s / ours_s, 2),
        "lines_per_s_ours_end_to_end": round(lines / end_to_end_s),
        "lines_per_s_drain3_end_to_end": round(lines / drain3_end_to_end_s),
        "speed_ratio_end_to_end": round(drain3_end_to_end_s / end_to_end_s, 2),
    }


def markdown(report: dict[str, Any]) -> str:
    """The report as a markdown table."""
    out = [
        "| set | GA ours | GA drain3 | templates ours/truth | lines/s ours | lines/s drain3 "
        "| ratio | end to end: ours | drain3 | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report["sets"]:
        out.append(
            f"| {row['set']} | {row['ga_ours']:.4f} | {row['ga_drain3']:.4f} "
            f"| {row['templates_ours']}/{row['templates_truth']} "
            f"| {row['lines_per_s_ours']:,} | {row['lines_per_s_drain3']:,} "
            f"| {row['speed_ratio']:.2f} | {row['lines_per_s_ours_end_to_end']:,} "
            f"| {row['lines_per_s_drain3_end_to_end']:,} | {row['speed_ratio_end_to_end']:.2f} |"
        )
    out.append(
        f"| **all** | **{report['mean_ga_ours']:.4f}** | **{report['mean_ga_drain3']:.4f}** | "
        f"| {report['lines_per_s_ours']:,} | {report['lines_per_s_drain3']:,} "
        f"| **{report['speed_ratio']:.2f}** | {report['lines_per_s_ours_end_to_end']:,} "
        f"| {report['lines_per_s_drain3_end_to_end']:,} | {report['speed_ratio_end_to_end']:.2f} |"
    )
    return "\n".join(out)


def main() -> None:
    """Run the benchmark, print the table, write `OUT`."""
    report = run()
    print(markdown(report))
    print(
        f"\nmean GA ours {report['mean_ga_ours']:.4f} (target {GA_TARGET}), "
        f"drain3 {report['mean_ga_drain3']:.4f}; mining speed ratio ours/drain3 "
        f"{report['speed_ratio']:.2f} (end to end {report['speed_ratio_end_to_end']:.2f})"
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(REPO_ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
