"""AIOps kinds end to end: HTTP API → Redis → a real aiops worker → SQL."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.api.test_aiops_api import alertmanager_payload, am_alert
from tests.integration.conftest import Stack, WebhookSink

pytestmark = pytest.mark.integration

HDFS_FORMAT = "<Date> <Time> <Pid> <Level> <Component>: <Content>"
BGL_FORMAT = (
    "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>"
)


def test_an_alertmanager_storm_becomes_an_incident_that_is_acked_resolved_and_notified(
    stack: Stack, webhook_sink: WebhookSink
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    payload = alertmanager_payload(
        am_alert("payments", "HighLatency", now, cluster="prod"),
        am_alert("payments", "ErrorRate", now + timedelta(seconds=20), cluster="prod"),
        am_alert("payments", "PodRestarts", now + timedelta(seconds=40), cluster="prod"),
    )
    with stack.client() as client:
        accepted = client.http.post("/alerts", json=payload).json()
        done = client.wait(accepted["correlation_job_id"], timeout_s=30)
        assert done["status"] == "succeeded", done["error"]
        assert done["worker"].startswith("aiops@")
        [incident_id] = done["result"]["incidents_opened"]
        incident = client.http.get(f"/incidents/{incident_id}").json()
        assert incident["alert_count"] == 3 and incident["root_cause"]["service"] == "payments"
        assert client.http.post(f"/incidents/{incident_id}/ack").json()["status"] == "acknowledged"
        assert client.http.post(f"/incidents/{incident_id}/resolve").json()["status"] == "resolved"

        first = client.wait(client.submit("aiops.deliver_notifications", {})["id"])
        assert first["result"]["retrying"] == 2  # open + resolve, each refused once by the sink
        time.sleep(2.0)
        second = client.wait(client.submit("aiops.deliver_notifications", {})["id"])
        assert second["result"]["sent"] == 2
        timeline = [
            e["type"] for e in client.http.get(f"/incidents/{incident_id}").json()["timeline"]
        ]
    events = [r["body"]["event"] for r in webhook_sink.received]  # type: ignore[index]
    assert events.count("open") == 2 and events.count("resolve") == 2
    assert timeline.count("notified") == 2


def test_successive_jobs_on_a_stream_extend_one_template_set(
    stack: Stack, benchmarks_dir: Path
) -> None:
    lines = (benchmarks_dir / "loghub" / "HDFS" / "HDFS_2k.log").read_text().splitlines()
    params = {"log_format": HDFS_FORMAT, "stream": "hdfs-it"}
    with stack.client() as client:
        first = client.wait(
            client.submit("aiops.parse_logs", {**params, "lines": lines[:1000]})["id"]
        )
        second = client.wait(
            client.submit("aiops.parse_logs", {**params, "lines": lines[1000:]})["id"]
        )
        listed = client.http.get("/log-streams/hdfs-it/templates").json()
    assert first["status"] == second["status"] == "succeeded"
    first_ids = {t["id"]: t["template"] for t in first["result"]["templates"]}
    second_ids = {t["id"]: t["template"] for t in second["result"]["templates"]}
    shared = set(first_ids) & set(second_ids)
    assert shared, "the second job must reuse the first job's template ids"
    assert not set(second["result"]["new_templates"]) & set(first_ids)
    assert listed["line_count"] == 2000
    assert sum(t["count"] for t in listed["templates"]) == 2000
    assert listed["template_count"] == len(listed["templates"])
    # One id form everywhere: the stream's listing uses the job results' ids ("E2").
    listed_ids = {t["id"]: t["template"] for t in listed["templates"]}
    assert set(first_ids) | set(second_ids) == set(listed_ids)
    assert all(listed_ids[i] == t for i, t in second_ids.items())


def test_log_anomalies_are_found_in_bgl_windows_with_the_templates_that_drove_them(
    stack: Stack, benchmarks_dir: Path
) -> None:
    with stack.client() as client:
        log = client.upload(benchmarks_dir / "loghub" / "BGL" / "BGL_2k.log")
        job = client.submit(
            "aiops.detect_log_anomalies",
            {
                "file_id": log["id"],
                "log_format": BGL_FORMAT,
                "window_s": 3600,
                "timestamp_fields": ["Timestamp"],
            },
        )
        done = client.wait(job["id"], timeout_s=60)
    assert done["status"] == "succeeded", done["error"]
    result = done["result"]
    assert result["lines"] == 2000 and result["scored_rows"] > 50
    assert result["anomaly_count"] >= 1
    top = result["anomalies"][0]
    assert top["templates"] and top["templates"][0]["template"]


def test_log_anomalies_without_readable_timestamps_fail_with_a_clear_message(stack: Stack) -> None:
    with stack.client() as client:
        done = client.wait(
            client.submit("aiops.detect_log_anomalies", {"lines": ["no time here"] * 20})["id"]
        )
    assert done["status"] == "failed"
    assert "timestamp" in done["error"]["message"]


def test_metric_anomalies_of_a_nab_series_are_found_with_a_chart(
    stack: Stack, benchmarks_dir: Path
) -> None:
    series = benchmarks_dir / "nab" / "realKnownCause" / "ec2_request_latency_system_failure.csv"
    with stack.client() as client:
        uploaded = client.upload(series)
        done = client.wait(
            client.submit("aiops.detect_metric_anomalies", {"file_id": uploaded["id"]})["id"],
            timeout_s=90,
        )
        chart = client.http.get(f"/jobs/{done['id']}/artifacts/anomalies.png")
        listed = client.http.get(f"/jobs/{done['id']}/artifacts").json()
        # Records name the API's download URL, never where the server keeps the file.
        download = done["result"]["chart"]["download"]
        assert download == f"/api/v1/jobs/{done['id']}/artifacts/anomalies.png"
        assert client.http.get(download.removeprefix("/api/v1")).content == chart.content
    assert [a["download"] for a in listed] == [download]
    assert str(stack.settings.home) not in json.dumps(done) + json.dumps(listed)
    assert "url" not in done["result"]["chart"]
    assert done["status"] == "succeeded", done["error"]
    result = done["result"]
    assert 4000 < result["points"] <= 4032  # duplicate timestamps are merged
    assert result["anomaly_count"] >= 1 and result["windows"]
    assert all(0 <= a["severity"] <= 100 for a in result["anomalies"])
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


def test_a_capacity_forecast_says_when_a_growing_disk_fills(stack: Stack) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        {
            "timestamp": (start + timedelta(hours=h)).isoformat(),
            "value": 50 + 0.1 * h + (h % 3) * 0.05,
        }
        for h in range(24 * 14)
    ]
    with stack.client() as client:
        done = client.wait(
            client.submit(
                "aiops.forecast_capacity",
                {"points": points, "threshold": 90, "horizon_s": 30 * 86400},
            )["id"],
            timeout_s=90,
        )
        chart = client.http.get(f"/jobs/{done['id']}/artifacts/forecast.png")
    assert done["status"] == "succeeded", done["error"]
    crossing = done["result"]["crossing"]
    # 50 + 0.1/h reaches 90 at hour 400: 65 h after the last point (hour 335).
    expected_s = crossing["expected"]["seconds"]
    assert abs(expected_s - 65 * 3600) < 0.15 * 65 * 3600
    assert crossing["earliest"]["seconds"] <= expected_s
    assert chart.status_code == 200 and chart.content.startswith(b"\x89PNG")


def test_a_series_that_is_not_numeric_fails_with_a_plain_message(
    stack: Stack, tmp_path: Path
) -> None:
    path = tmp_path / "cpu.csv"
    rows = [f"2026-01-01T00:{m:02d}:00Z,{'n/a' if m % 2 else 'high'}" for m in range(30)]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    with stack.client() as client:
        uploaded = client.upload(path)
        done = client.wait(
            client.submit("aiops.detect_metric_anomalies", {"file_id": uploaded["id"]})["id"],
            timeout_s=60,
        )
    assert done["status"] == "failed"
    assert done["error"]["type"] == "InvalidInput"
    assert "are not numbers" in done["error"]["message"]


def test_a_forecast_of_a_real_nab_series_has_an_ordered_band(
    stack: Stack, benchmarks_dir: Path
) -> None:
    series = benchmarks_dir / "nab" / "realKnownCause" / "cpu_utilization_asg_misconfiguration.csv"
    with stack.client() as client:
        uploaded = client.upload(series)
        done = client.wait(
            client.submit(
                "aiops.forecast_capacity",
                {"file_id": uploaded["id"], "threshold": 95, "horizon_s": 3 * 86400},
            )["id"],
            timeout_s=120,
        )
    assert done["status"] == "succeeded", done["error"]
    points = done["result"]["points"]
    assert points and all(p["lower"] <= p["mean"] <= p["upper"] for p in points)
    assert done["result"]["crossing"]["threshold"] == 95


def test_auto_resolve_closes_an_incident_whose_alerts_resolved(stack: Stack) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    firing = am_alert("search", "IndexLag", start, cluster="eu")
    resolved = {
        **firing,
        "status": "resolved",
        "endsAt": (start + timedelta(minutes=2)).isoformat(),
    }
    with stack.client() as client:
        accepted = client.http.post("/alerts", json=alertmanager_payload(firing)).json()
        [incident_id] = client.wait(accepted["correlation_job_id"])["result"]["incidents_opened"]
        client.http.post("/alerts", json=alertmanager_payload(resolved, status="resolved"))
        sweep = client.wait(client.submit("aiops.auto_resolve_incidents", {"quiet_s": 0})["id"])
        incident = client.http.get(f"/incidents/{incident_id}").json()
    assert sweep["status"] == "succeeded", sweep["error"]
    assert {"id": incident_id, "reason": "quiet"} in sweep["result"]["resolved"]
    assert incident["status"] == "resolved" and incident["resolved_by"] == "auto-resolve"
