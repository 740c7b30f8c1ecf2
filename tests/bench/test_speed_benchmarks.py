"""The throughput and latency benchmarks at a tiny size: real API, real workers, real bare
Celery worker, on the suite's Redis and database; results.json has the documented shape."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import latency, results, scaling, throughput

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

FIGURE_KEYS = {"value", "baseline", "ratio", "unit", "higher_is_better", "description"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory, settings: object) -> Path:
    """throughput.json and latency.json of one tiny run (the `settings` fixture has
    checked that the services are reachable)."""
    directory = tmp_path_factory.mktemp("bench")
    result = throughput.run(jobs=50, pairs=1, workers=2)
    (directory / "throughput.json").write_text(json.dumps(result))
    (directory / "latency.json").write_text(
        json.dumps(latency.run(workers=2, seconds=0.5, queue_jobs=10, steps=2))
    )
    (directory / "scaling.json").write_text(
        json.dumps(scaling.run(echo_jobs=20, cpu_jobs=1, workers=(1, 2)))
    )
    return directory


def test_every_job_of_both_sides_is_final_and_none_is_lost(outputs: Path) -> None:
    data = json.loads((outputs / "throughput.json").read_text())
    assert [run["side"] for run in data["runs"]] == ["triops", "celery"]
    for run in data["runs"]:
        assert run["submitted"] == run["final"] == run["succeeded"] == 50, run
        assert run["jobs_per_s"] > 0
    assert data["unfinished"] == 0
    assert data["ratio"] > 0


def test_results_json_holds_every_speed_figure_with_a_positive_ratio(outputs: Path) -> None:
    written = results.write(outputs)
    assert json.loads((outputs / "results.json").read_text()) == written
    machine = written["machine"]
    assert machine["cores"] >= 1 and machine["python"]
    assert machine["packages"]["celery"].startswith("5.")
    figures = written["figures"]
    expected = {
        "throughput_vs_celery",
        *(f"submit_{kind}_{q}" for kind in ("single", "batch") for q in ("p50", "p99")),
        "submit_single_max_rate",
        "submit_batch_max_rate",
        *(f"queue_{stage}_{q}" for stage in ("to_start", "to_finish") for q in ("p50", "p99")),
        "scaling_echo_2_vs_1_processes",
        "scaling_cpu_2_vs_1_processes",
    }
    assert expected <= set(figures)
    for name in expected:
        figure = figures[name]
        assert set(figure) == FIGURE_KEYS, name
        assert figure["description"]
        if name.endswith("max_rate"):
            # On a loaded machine no rate may hold p99 under the limit, the baseline's
            # included: then the ratio is None, never a division by zero.
            assert figure["value"] >= 0 and figure["baseline"] >= 0, (name, figure)
            assert figure["ratio"] is None or figure["ratio"] >= 0, (name, figure)
            continue
        assert figure["value"] > 0 and figure["baseline"] > 0, (name, figure)
        assert figure["ratio"] > 0 and math.isfinite(figure["ratio"]), (name, figure)
    assert (outputs / "results.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaling_runs_every_job_of_both_kinds_with_each_process_count(outputs: Path) -> None:
    data = json.loads((outputs / "scaling.json").read_text())
    assert [row["workers"] for row in data["rows"]] == [1, 2]
    for row in data["rows"]:
        assert row["echo"]["final"] == row["echo"]["jobs"] == 20, row
        assert row["cpu"]["final"] == row["cpu"]["jobs"] == 1, row


def test_queue_latency_counts_every_job_and_starts_before_it_finishes(outputs: Path) -> None:
    queue = json.loads((outputs / "latency.json").read_text())["queue"]
    for side in ("triops", "celery"):
        assert queue[side]["succeeded"] == queue[side]["jobs"] == 10
        assert queue[side]["to_start"]["p50_ms"] <= queue[side]["to_finish"]["p50_ms"]
