"""A messy CSV through dataops.etl on a real dataops worker: every row accounted for, bad
rows quarantined with reasons, clean rows in the warehouse, a dataset version, and the
same table after a rerun."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text

from core.db import get_engine
from tests.integration.conftest import TOKEN, Stack, active_task_pid
from workers.client import TriopsClient

pytestmark = pytest.mark.integration

MESSY = """id,name,age,email,signup,score
1, Ada ,36,ADA@example.com,2026-01-03,91.5
2,Brian,41,brian@example.com,2026-01-04,77
2,Brian,41,brian@example.com,2026-01-04,77
3,,29,cara@example.com,2026-01-05,88
4,Dan,abc,dan@example.com,2026-01-06,65
5,Eve,200,eve@example.com,2026-01-07,70
6,Finn,33,finn-at-example.com,2026-01-08,82
7,Gus,50,gus@example.com,not a date,60
8,Hal,45,hal@example.com,2026-01-09,
9,Ivy,38,ivy@example.com,2026-01-10,93,unexpected
10,Jo,27,jo@example.com,2026-01-11,85
"""

SPEC: dict[str, Any] = {
    "transforms": [
        {"type": "strip", "columns": ["name", "email"]},
        {"type": "lower", "columns": ["email"]},
        {
            "type": "cast",
            "columns": {"id": "int", "age": "int", "score": "float"},
            "on_error": "quarantine",
        },
        {"type": "parse_datetime", "column": "signup", "on_error": "quarantine"},
        {"type": "deduplicate", "keys": ["id"], "keep": "first"},
        {"type": "filter", "expr": "score is not null"},
    ],
    "checks": [
        {"type": "not_null", "columns": ["name"], "severity": "error"},
        {"type": "range", "column": "age", "min": 0, "max": 120, "severity": "error"},
        {"type": "regex", "column": "email", "pattern": r"[^@]+@[^@]+\.[a-z]+", "severity": "warn"},
    ],
    "target": {"table": "people", "mode": "upsert", "keys": ["id"], "dataset": "people"},
    "max_reject_ratio": 0.6,
}


def run_etl(client: TriopsClient, params: dict[str, Any]) -> dict[str, Any]:
    done = client.wait(client.submit("dataops.etl", params)["id"], timeout_s=90)
    assert done["worker"].startswith("dataops@")
    return done


def test_a_messy_csv_is_cleaned_quarantined_loaded_and_versioned_once(
    stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(MESSY)
    with stack.client() as client:
        uploaded = client.upload(path)
        params = {**SPEC, "source": {"file_id": uploaded["id"]}}
        first = run_etl(client, params)
        assert first["status"] == "succeeded", first["error"]
        rows = first["result"]["rows"]
        assert rows["read"] == 11
        assert (
            rows["read"]
            == rows["loaded"] + rows["quarantined"] + rows["filtered"] + rows["deduplicated"]
        )
        assert rows["deduplicated"] == 1 and rows["filtered"] == 1
        assert rows["by_rule"]["parse"] == 1  # the line with an extra field
        assert rows["quarantined"] == 5  # bad age text, bad date, no name, age 200, broken line
        assert rows["loaded"] == 4
        assert first["result"]["target_changes"] == {"inserted": 4, "updated": 0, "deleted": 0}
        warned = [r for r in first["result"]["checks"]["results"] if r["check"] == "regex"]
        assert warned and warned[0]["failed"] == 1  # a warning: reported, still loaded

        quarantine = client.http.get(f"/jobs/{first['id']}/artifacts/quarantine.csv")
        reasons = list(csv.DictReader(io.StringIO(quarantine.text)))
        assert len(reasons) == 5 and all(r["_reason"] for r in reasons)
        assert any(r.get("_line_number") == "11" for r in reasons)

        again = run_etl(client, params)
        assert again["status"] == "succeeded"
        assert again["result"]["target_changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
        assert again["result"]["dataset"]["new"] is False
        version = client.http.get("/datasets/people/versions/1").json()
        download = client.http.get("/datasets/people/versions/1/download")
    with get_engine(stack.settings).connect() as conn:
        loaded = conn.execute(text("SELECT id, name, email FROM wh_people ORDER BY id")).all()
    assert [r[0] for r in loaded] == [1, 2, 6, 10]
    assert loaded[0][1] == "Ada" and loaded[0][2] == "ada@example.com"
    assert version["rows"] == 4 and version["upstream"][0]["file_id"] == uploaded["id"]
    assert download.status_code == 200 and download.content[:4] == b"PAR1"
    with stack.client() as client:
        derived = run_etl(
            client,
            {
                "source": {"dataset": "people@1"},
                "transforms": [{"type": "derive", "column": "senior", "expr": "age >= 40"}],
                "target": {"dataset": "people-flags"},
            },
        )
        assert derived["status"] == "succeeded", derived["error"]
        lineage = client.http.get("/datasets/people/versions/1").json()
        flags = client.http.get("/datasets/people-flags/versions/1").json()
        missing = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {"source": {"dataset": "people@99"}, "target": {"dataset": "x"}},
            },
        )
    assert flags["upstream"][0]["dataset"] == "people@1" and flags["rows"] == 4
    assert lineage["downstream"] == ["people-flags@1"]
    assert missing.status_code == 404


def test_a_run_over_the_reject_ratio_loads_nothing(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("id,score\n1,x\n2,y\n3,3.5\n")
    spec = {
        "source": {"file_id": None},
        "transforms": [{"type": "cast", "columns": {"score": "float"}, "on_error": "quarantine"}],
        "target": {"table": "scores", "mode": "replace"},
        "max_reject_ratio": 0.5,
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        done = run_etl(client, spec)
    assert done["status"] == "failed"
    assert "max_reject_ratio" in done["error"]["message"]
    with get_engine(stack.settings).connect() as conn:
        exists = conn.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_name = 'wh_scores'")
            if stack.settings.database_url.startswith("postgresql")
            else text("SELECT count(*) FROM sqlite_master WHERE name = 'wh_scores'")
        ).scalar()
    assert exists == 0


def test_bad_specs_are_refused_before_anything_runs(stack: Stack, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with stack.client() as client:
        outside = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {"source": {"path": "../../etc/passwd"}, "target": {"table": "x"}},
            },
            headers=headers,
        )
        assert outside.status_code == 422 and "data directory" in str(outside.json())
        unknown = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {
                    "source": {"path": "x.csv"},
                    "transforms": [{"type": "explode"}],
                    "target": {"table": "x"},
                },
            },
        )
        assert unknown.status_code == 422 and "explode" in str(unknown.json())
        bad_expr = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {
                    "source": {"path": "x.csv"},
                    "transforms": [{"type": "filter", "expr": "__import__('os')"}],
                    "target": {"table": "x"},
                },
            },
        )
        assert bad_expr.status_code == 422
        path = tmp_path / "few.csv"
        path.write_text("a,b\n1,2\n")
        file_id = client.upload(path)["id"]
        column = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {
                    "source": {"file_id": file_id},
                    "transforms": [{"type": "rename", "mapping": {"a": "price"}}],
                    "checks": [{"type": "not_null", "columns": ["prcie"]}],
                    "target": {"table": "few"},
                },
            },
        )
        parquet = tmp_path / "few.parquet"
        pd.DataFrame({"a": [1], "b": [2]}).to_parquet(parquet)
        schema = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.validate",
                "params": {
                    "source": {"file_id": client.upload(parquet)["id"]},
                    "checks": [{"type": "unique", "columns": ["zzz"]}],
                },
            },
        )
        listed = client.jobs(kind="dataops.etl", limit=200)
    assert schema.status_code == 422 and "zzz" in str(schema.json())
    # Known from the file's header line at submit: refused before any job exists.
    assert column.status_code == 422
    assert "prcie" in str(column.json()) and "price" in str(column.json())
    assert not [j for j in listed["jobs"] if j["params"]["target"].get("table") == "few"]


def test_a_backfill_runs_the_spec_once_per_day_from_the_data_directory(
    stack: Stack, tmp_path: Path
) -> None:
    import subprocess
    import sys

    import yaml

    daily = stack.settings.data_root / "sales"
    daily.mkdir(parents=True, exist_ok=True)
    for day, amount in (("2026-01-01", 10), ("2026-01-02", 20), ("2026-01-03", 30)):
        (daily / f"{day}.csv").write_text(f"day,amount\n{day},{amount}\n")
    spec = tmp_path / "sales.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "source": {"path": "sales/{date}.csv"},
                "transforms": [{"type": "cast", "columns": {"amount": "int"}, "on_error": "fail"}],
                "target": {"table": "sales", "mode": "upsert", "keys": ["day"]},
            }
        )
    )
    env = {**stack.env, "TRIOPS_API_URL": stack.api_url}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "workers.cli",
            "etl",
            "run",
            str(spec),
            "--range",
            "date=2026-01-01..2026-01-03",
            "--wait",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    assert run.stdout.startswith("pipeline ")
    with get_engine(stack.settings).connect() as conn:
        rows = conn.execute(text("SELECT day, amount FROM wh_sales ORDER BY day")).all()
    assert [tuple(r) for r in rows] == [("2026-01-01", 10), ("2026-01-02", 20), ("2026-01-03", 30)]


def test_a_thousands_of_rows_load_is_exact_and_a_rerun_changes_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "metrics.csv"
    lines = ['host,cpu,"odd ""name""",seen'] + [
        f"h{i},{i % 97}.5,x{i % 7},2026-01-{1 + i % 28:02d}T00:00:00Z" for i in range(2500)
    ]
    path.write_text("\n".join(lines) + "\n")
    spec = {
        "transforms": [
            {"type": "cast", "columns": {"cpu": "float"}, "on_error": "quarantine"},
            {"type": "parse_datetime", "column": "seen", "on_error": "quarantine"},
        ],
        "checks": [{"type": "range", "column": "cpu", "min": 0, "max": 100}],
        "target": {"table": "metrics", "mode": "replace"},
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        first = run_etl(client, spec)
        second = run_etl(client, spec)
    assert first["status"] == "succeeded", first["error"]
    assert first["result"]["target_changes"] == {"inserted": 2500, "updated": 0, "deleted": 0}
    assert second["result"]["target_changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    with get_engine(stack.settings).connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM wh_metrics")).scalar() == 2500


def test_a_model_trains_on_a_dataset_version_the_etl_produced(stack: Stack, tmp_path: Path) -> None:
    path = tmp_path / "churn.csv"
    rows = [f"{i},{'pro' if i % 3 else 'basic'},{i % 11},{int(i % 3 == 0)}" for i in range(300)]
    path.write_text("id,plan,seats,churned\n" + "\n".join(rows) + "\n")
    spec = {
        "transforms": [
            {"type": "cast", "columns": {"seats": "int", "churned": "int"}, "on_error": "fail"},
            {"type": "drop", "columns": ["id"]},
        ],
        "target": {"dataset": "churn-training"},
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        etl = run_etl(client, spec)
        assert etl["status"] == "succeeded", etl["error"]
        version = etl["result"]["dataset"]["version"]
        trained = client.wait(
            client.submit(
                "mlops.train",
                {
                    "dataset": f"dataset:churn-training@{version}",
                    "target": "churned",
                    "model": "churn-ds",
                },
            )["id"],
            timeout_s=120,
        )
    assert trained["status"] == "succeeded", trained["error"]
    assert trained["result"]["features"] == 2
    assert trained["result"]["metrics"]["accuracy"] > 0.9


def test_a_worker_killed_mid_load_leaves_no_partial_load_behind(
    stack: Stack, tmp_path: Path
) -> None:
    import os
    import signal
    import time

    ROWS = 400_000
    postgres = stack.settings.database_url.startswith("postgresql")
    path = tmp_path / "big.csv"
    with open(path, "w") as out:
        out.write("id,value\n")
        for i in range(ROWS):
            out.write(f"{i},{i * 0.5}\n")
    spec = {
        "transforms": [
            {"type": "cast", "columns": {"id": "int", "value": "float"}, "on_error": "fail"}
        ],
        "target": {"table": "big_append", "mode": "append"},
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        job = client.submit("dataops.etl", spec)
        pid = active_task_pid(stack, job["id"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _loading(stack, client, job["id"], postgres):
                break
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)  # inside the load's transaction
        done = client.wait(job["id"], timeout_s=120)
    assert done["status"] == "succeeded", done["error"]
    assert done["attempts"] == 2
    with get_engine(stack.settings).connect() as conn:
        rows = conn.execute(text("SELECT count(*), count(DISTINCT id) FROM wh_big_append")).one()
    # Append is the sharpest case: a partial first load would show as duplicates.
    assert tuple(rows) == (ROWS, ROWS)


def _loading(stack: Stack, client: TriopsClient, job_id: str, postgres: bool) -> bool:
    """Whether the job is inside its load transaction: on PostgreSQL, rows are being
    staged (COPY) or applied to the table; elsewhere, chunks are being read and staged."""
    if postgres:
        with get_engine(stack.settings).connect() as conn:
            return bool(
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                        "(query LIKE 'COPY \"triops_stage\"%' OR query LIKE 'INSERT INTO wh_%')"
                    )
                ).scalar()
            )
    message = client.job(job_id).get("progress_message") or ""
    return message.endswith("rows read") or message.startswith("applying")


def test_a_named_sql_connection_is_a_source_and_an_unknown_one_is_422(
    stack: Stack, tmp_path: Path
) -> None:
    # The stack's workers know the connection "suite" (the suite's own database).
    with get_engine(stack.settings).begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS crm_customers"))
        conn.execute(text("CREATE TABLE crm_customers (id INTEGER, region TEXT, day TEXT)"))
        conn.execute(
            text(
                "INSERT INTO crm_customers VALUES (1, 'eu', '2026-01-01'), (2, 'us', '2026-01-01'),"
                " (3, 'eu', '2026-01-02')"
            )
        )
    spec = {
        "source": {
            "connection": "suite",
            "query": "SELECT id, region FROM crm_customers WHERE day = :day",
        },
        "parameters": {"day": "2026-01-01"},
        "target": {"table": "customers_day", "mode": "replace"},
    }
    with stack.client() as client:
        done = run_etl(client, spec)
        unknown = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {**spec, "source": {"connection": "nope", "query": "SELECT 1"}},
            },
        )
        injected = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {**spec, "parameters": {"day": "2026-01-01' OR '1'='1"}},
            },
        )
    assert done["status"] == "succeeded", done["error"]
    assert done["result"]["rows"]["read"] == 2
    assert unknown.status_code == 422 and "suite" in str(unknown.json()["error"]["details"])
    # Values are bound, never pasted into SQL; and they must be plain tokens anyway.
    assert injected.status_code == 422


def test_a_join_and_a_referential_check_read_other_dataset_versions(
    stack: Stack, tmp_path: Path
) -> None:
    regions = tmp_path / "regions.csv"
    regions.write_text("code,region\nfr,eu\nus,na\n")
    orders = tmp_path / "orders.csv"
    orders.write_text("order,code,shipto\n1,fr,fr\n2,us,xx\n3,jp,us\n")
    with stack.client() as client:
        made = run_etl(
            client,
            {"source": {"file_id": client.upload(regions)["id"]}, "target": {"dataset": "regions"}},
        )
        ref = f"regions@{made['result']['dataset']['version']}"
        done = run_etl(
            client,
            {
                "source": {"file_id": client.upload(orders)["id"]},
                "transforms": [
                    {
                        "type": "join",
                        "dataset": ref,
                        "on": ["code"],
                        "columns": ["region"],
                        "how": "inner",
                    }
                ],
                "checks": [
                    {
                        "type": "referential",
                        "column": "shipto",
                        "dataset": ref,
                        "dataset_column": "code",
                    }
                ],
                "target": {"dataset": "orders-by-region"},
                "max_reject_ratio": 0.5,
            },
        )
        unknown = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {
                    "source": {"file_id": client.upload(orders)["id"]},
                    "transforms": [
                        {
                            "type": "join",
                            "dataset": "regions@99",
                            "on": ["code"],
                            "columns": ["region"],
                        }
                    ],
                    "target": {"dataset": "x"},
                },
            },
        )
        lineage = client.http.get("/datasets/orders-by-region/versions/1").json()
        profiled = client.wait(client.submit("dataops.profile", {"dataset": ref})["id"])
    assert profiled["status"] == "succeeded" and profiled["result"]["rows"] == 2
    assert done["status"] == "succeeded", done["error"]
    rows = done["result"]["rows"]
    assert (rows["read"], rows["filtered"], rows["quarantined"], rows["loaded"]) == (3, 1, 1, 1)
    assert {i.get("dataset") for i in lineage["upstream"]} >= {ref}
    assert unknown.status_code == 404


def test_an_input_larger_than_a_chunk_streams_with_every_row_accounted(
    stack: Stack, tmp_path: Path
) -> None:
    # The stack's workers read 1,000 rows at a time: 3,500 rows are four chunks, with a
    # repeat of an id from the first chunk in the third, a broken line in the third, a
    # null in the fourth and a dataset-level check over all of them.
    path = _fleet_csv(tmp_path)
    spec: dict[str, Any] = {
        "transforms": [
            {"type": "cast", "columns": {"id": "int", "cpu": "float"}, "on_error": "quarantine"},
            {"type": "deduplicate", "keys": ["id"]},
        ],
        "checks": [
            {"type": "not_null", "columns": ["region"]},
            {"type": "unique", "columns": ["id"]},
            {"type": "row_count", "min": 3000},
        ],
        "target": {"table": "fleet", "mode": "upsert", "keys": ["id"], "dataset": "fleet"},
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        first = run_etl(client, spec)
        second = run_etl(client, spec)
        quarantine = client.http.get(f"/jobs/{first['id']}/artifacts/quarantine.csv").text
        version = client.http.get("/datasets/fleet/versions/1").json()
    assert first["status"] == "succeeded", first["error"]
    rows = first["result"]["rows"]
    assert (rows["read"], rows["deduplicated"], rows["quarantined"], rows["loaded"]) == (
        3500,
        1,
        2,
        3497,
    )
    assert rows["by_rule"] == {"parse": 1, "transforms[1].deduplicate": 1, "check:not_null": 1}
    reasons = list(csv.DictReader(io.StringIO(quarantine)))
    assert sorted((r["_rule"], r["_line_number"] or r["_row"]) for r in reasons) == [
        ("check", "3298"),  # the row id: rows that parsed, counted from 0
        ("parse", "2601"),  # the line number in the file
    ]
    assert first["result"]["target_changes"] == {"inserted": 3497, "updated": 0, "deleted": 0}
    assert second["result"]["target_changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert second["result"]["dataset"]["new"] is False
    assert version["rows"] == 3497
    with get_engine(stack.settings).connect() as conn:
        count, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT id) FROM wh_fleet")
        ).one()
    assert count == distinct == 3497

    # A check over the whole input fails after the last chunk: nothing is loaded.
    strict = {**spec, "checks": [{"type": "row_count", "max": 3000}]}
    strict["target"] = {"table": "fleet_strict", "mode": "append"}
    with stack.client() as client:
        refused = run_etl(client, strict)
    assert refused["status"] == "failed"
    assert "3498 rows" in refused["error"]["message"]  # the checked rows, every chunk
    with get_engine(stack.settings).connect() as conn:
        assert not conn.dialect.has_table(conn, "wh_fleet_strict")


def _fleet_csv(tmp_path: Path, repeat: str = "7,eu-1,7.5") -> Path:
    lines = ["id,region,cpu"]
    for i in range(3500):
        lines.append(f"{i},eu-{i % 3},{i % 90}.5")
    lines[2201] = repeat  # by default id 7 again, 2,194 rows later
    lines[2600] = "2599,eu-2,1.5,surplus"  # line 2,601 has a field too many
    lines[3300] = "3299,,33.5"  # no region
    path = tmp_path / "fleet.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_file_split_across_workers_loads_once_like_a_single_run(
    stack: Stack, tmp_path: Path
) -> None:
    path = _fleet_csv(tmp_path, repeat="2200,eu-1,7.5")  # no repeated id this time
    spec: dict[str, Any] = {
        "transforms": [
            {"type": "cast", "columns": {"id": "int", "cpu": "float"}, "on_error": "quarantine"},
        ],
        "checks": [
            {"type": "not_null", "columns": ["region"]},
            {"type": "unique", "columns": ["id"]},
            {"type": "row_count", "min": 3000},
        ],
        "target": {
            "table": "fleet_split",
            "mode": "upsert",
            "keys": ["id"],
            "dataset": "fleet-split",
        },
    }
    with stack.client() as client:
        spec["source"] = {"file_id": client.upload(path)["id"]}
        single = run_etl(client, {**spec, "target": {"table": "fleet_single", "mode": "append"}})
        split = run_etl(client, {**spec, "parallel": 3})
        again = run_etl(client, {**spec, "parallel": 3})
        quarantine = client.http.get(f"/jobs/{split['id']}/artifacts/quarantine.csv").text
        # An id repeated in another part than its first occurrence fails the unique check.
        path = _fleet_csv(tmp_path, repeat="7,eu-1,7.5")
        repeated = {**spec, "parallel": 3, "source": {"file_id": client.upload(path)["id"]}}
        repeated["target"] = {"table": "fleet_split_repeat", "mode": "append"}
        refused = run_etl(client, repeated)
        wrong = client.http.post(
            "/jobs",
            json={
                "kind": "dataops.etl",
                "params": {
                    **spec,
                    "parallel": 2,
                    "transforms": [{"type": "deduplicate", "keys": ["id"]}],
                },
            },
        )
    assert split["status"] == "succeeded", split["error"]
    assert split["result"]["parts"] == 3
    assert split["result"]["rows"] == single["result"]["rows"]
    assert split["result"]["rows"]["loaded"] == 3498
    assert split["result"]["target_changes"] == {"inserted": 3498, "updated": 0, "deleted": 0}
    assert again["result"]["target_changes"] == {"inserted": 0, "updated": 0, "deleted": 0}
    assert again["result"]["dataset"]["new"] is False
    lines = sorted(r["_line_number"] for r in csv.DictReader(io.StringIO(quarantine)))
    assert lines == ["", "2601"]  # the null region (a row) and the broken line
    assert refused["status"] == "failed" and "repeated" in str(refused["error"])
    assert wrong.status_code == 422 and "deduplicate" in wrong.text
    with get_engine(stack.settings).connect() as conn:
        count, distinct = conn.execute(
            text("SELECT count(*), count(DISTINCT id) FROM wh_fleet_split")
        ).one()
        assert not conn.dialect.has_table(conn, "wh_fleet_split_repeat")
    assert count == distinct == 3498


def test_a_split_etl_in_a_pipeline_holds_the_next_step_until_its_commit(
    stack: Stack, tmp_path: Path
) -> None:
    path = _fleet_csv(tmp_path, repeat="2200,eu-1,7.5")
    bad = tmp_path / "bad.csv"
    bad.write_text("id,cpu\n" + "".join(f"{i},{i}.5\n" for i in range(3000)) + "x,1\n")
    echo = {"kind": "system.echo", "params": {"payload": "after"}}
    with stack.client() as client:
        split = {
            "source": {"file_id": client.upload(path)["id"]},
            "transforms": [{"type": "cast", "columns": {"id": "int"}, "on_error": "quarantine"}],
            "target": {"table": "fleet_pipeline", "mode": "append"},
            "parallel": 2,
        }
        failing = {
            "source": {"file_id": client.upload(bad)["id"]},
            "transforms": [{"type": "cast", "columns": {"id": "int"}, "on_error": "fail"}],
            "target": {"table": "fleet_pipeline_bad", "mode": "append"},
            "parallel": 2,
        }
        results = []
        for spec in (split, failing):
            made = client.create_pipeline([{"kind": "dataops.etl", "params": spec}, echo])
            for step in made["steps"]:
                client.wait(step["id"], timeout_s=120)
            results.append([client.job(step["id"]) for step in made["steps"]])
    (loaded, after), (broken, skipped) = results
    assert loaded["status"] == "succeeded" and loaded["result"]["parts"] == 2
    assert after["status"] == "succeeded"
    assert after["started_at"] >= loaded["finished_at"]  # not sent before the commit
    assert broken["status"] == "failed" and "part" in broken["error"]["message"]
    assert skipped["status"] == "cancelled" and skipped["error"]["type"] == "Skipped"
