"""The correlation job's time on 10,000 alerts, SQL included: ingest, correlate, write incidents.

Run: ``.venv/bin/python -m bench.correlation_job``. Uses `TRIOPS_DATABASE_URL` when set
(PostgreSQL), else a temporary SQLite file. Writes ``var/bench/correlation_job.json``.
This is what `aiops.correlate_alerts` does inside a worker, timed without the broker hop.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from typing import Any

from bench.alerts import generate
from bench.data import REPO_ROOT
from core import incidents as repo
from core.config import Settings
from core.db import dispose_engines, get_engine, session_scope
from core.migrate import upgrade
from core.tables import Base, utcnow
from domain.aiops.correlation import join_open_incidents

OUT = REPO_ROOT / "var" / "bench" / "correlation_job.json"


def run(settings: Settings) -> dict[str, Any]:
    synthetic = generate()
    # Delivered in time order, as a monitoring system sends them.
    alerts = sorted(synthetic.alerts, key=lambda a: a.starts_at)
    with get_engine(settings).begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name in {"notifications", "incident_events", "alerts", "incidents"}:
                conn.execute(table.delete())
    started = time.perf_counter()
    with session_scope(settings) as session:
        repo.ingest_alerts(session=session, alerts=alerts, now=utcnow())
    ingested = time.perf_counter()
    with session_scope(settings) as session:
        rows = repo.pending_alerts(session=session)
        plan = join_open_incidents(
            [repo.to_domain(r) for r in rows],
            repo.open_incidents(session=session),
            dependencies=synthetic.dependencies,
        )
        applied = repo.apply_plan(
            session=session, plan=plan, rows=rows, now=utcnow(), job_id=None, notify=True
        )
    finished = time.perf_counter()
    return {
        "alerts": len(alerts),
        "database": settings.database_url.split(":", 1)[0],
        "ingest_s": round(ingested - started, 3),
        "correlate_and_write_s": round(finished - ingested, 3),
        "job_time_s": round(finished - started, 3),
        "alerts_per_s": round(len(alerts) / (finished - started)),
        "incidents_opened": len(applied.opened),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        env = {"TRIOPS_HOME": home}
        if os.environ.get("TRIOPS_DATABASE_URL"):
            env["TRIOPS_DATABASE_URL"] = os.environ["TRIOPS_DATABASE_URL"]
        settings = Settings.from_env(env)
        upgrade(settings)
        result = run(settings)
        dispose_engines()
    print("| metric | value |\n|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
