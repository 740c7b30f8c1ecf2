"""Screenshots of every console page, for docs/console.md, from a running stack:

    triops up --demo        # in one shell; wait for "demo: done"
    .venv/bin/python -m tests.ui.screenshots --url http://127.0.0.1:8000 \\
        --token "$(cat var/api-token)" --out docs/img/console

It signs in, finds an example of each page through the API (an incident, a model, a
dataset version, an ETL run, a metric and a forecast job, a log stream, a schedule) and
writes one PNG per page.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import httpx

from tests.ui.browser import chromium_path, launch, sign_in


def pages(api: httpx.Client) -> dict[str, str]:
    """Console path of each page to show, by screenshot name."""

    def first(path: str, key: str, **params: object) -> dict[str, object]:
        items = api.get(path, params=params).json()
        rows = items[key] if key else items
        return rows[0] if rows else {}

    found = {
        "overview": "/ui",
        "jobs": "/ui/jobs",
        "incidents": "/ui/incidents",
        "logs": "/ui/logs",
        "metrics": "/ui/metrics",
        "models": "/ui/models",
        "data": "/ui/data",
        "schedules": "/ui/schedules",
    }
    if incident := first("/incidents", "incidents"):
        found["incident"] = f"/ui/incidents/{incident['id']}"
    for name, kind in (
        ("job-etl", "dataops.etl"),
        ("job-metric-anomalies", "aiops.detect_metric_anomalies"),
        ("job-forecast", "aiops.forecast_capacity"),
        ("job-log-anomalies", "aiops.detect_log_anomalies"),
        ("job-evaluate", "mlops.evaluate"),
    ):
        if job := first("/jobs", "jobs", kind=kind, status="succeeded", limit=1):
            found[name] = f"/ui/jobs/{job['id']}"
    models = api.get("/models").json()
    deployed = [m for m in models if m["aliases"]] or models
    if deployed:
        found["model"] = f"/ui/models/{deployed[0]['name']}"
    if dataset := first("/datasets", ""):
        latest = dataset["latest_version"]
        found["dataset-version"] = f"/ui/data/{dataset['name']}/versions/{latest}"
    parse = first("/jobs", "jobs", kind="aiops.parse_logs", status="succeeded", limit=20)
    if parse and parse.get("params", {}).get("stream"):  # type: ignore[union-attr]
        found["log-stream"] = f"/ui/logs/{parse['params']['stream']}"  # type: ignore[index]
    schedules = api.get("/schedules").json()["schedules"]
    ours = [s for s in schedules if not s["builtin"]] or schedules
    if ours:
        found["schedule"] = f"/ui/schedules/{ours[0]['name']}"
    return found


def shrink(path: Path) -> None:
    """A palette PNG: a third of the size, the same to read (when Pillow is there)."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/img/console"))
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args(argv)
    executable = chromium_path()
    if executable is None:
        print("no chromium found (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    headers = {"Authorization": f"Bearer {args.token}"}
    with httpx.Client(base_url=f"{args.url}/api/v1", headers=headers, timeout=30) as api:
        targets = pages(api)
    with sync_playwright() as playwright:
        browser = launch(playwright, executable)
        context = browser.new_context(viewport={"width": args.width, "height": 900})
        page = context.new_page()
        page.goto(f"{args.url}/ui/sign-in")
        page.screenshot(path=str(args.out / "sign-in.png"))
        shrink(args.out / "sign-in.png")
        sign_in(page, args.url, args.token)
        for name, path in targets.items():
            page.goto(f"{args.url}{path}")
            page.wait_for_load_state("networkidle")
            if name == "overview":
                page.get_by_text("Pools: workers answering").wait_for(timeout=10_000)
            page.screenshot(path=str(args.out / f"{name}.png"), full_page=True)
            shrink(args.out / f"{name}.png")
            print(f"{name}: {path}")
        browser.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
