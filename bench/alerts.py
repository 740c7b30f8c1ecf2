"""Alert correlation benchmark: 10,000 seeded synthetic alerts over a service dependency graph.

Run: ``.venv/bin/python -m bench.alerts``. Prints a markdown table and writes
``var/bench/alerts.json``.

The generator injects outages: a root service fails and services that depend on it (up to two
hops, same cluster) alert shortly after, the root's own alert sometimes arriving *later* than its
dependents' (monitoring lag). Background noise alerts fall anywhere. Figures: correlation
throughput (alerts/s), groups formed, and how often the group holding an outage's alerts names
the injected service as its root cause.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.data import REPO_ROOT
from domain.aiops.alerts import Alert, compute_fingerprint, dedupe
from domain.aiops.correlation import correlate

SEED = 20240501
N_ALERTS = 10_000
WINDOW_S = 300.0
SPAN_S = 7 * 86_400
T0 = datetime(2024, 5, 1, tzinfo=UTC)
OUT = REPO_ROOT / "var" / "bench" / "alerts.json"
ALERT_NAMES = ("HighLatency", "HighErrorRate", "Saturation", "Down", "PodRestarting")
SEVERITIES = ("info", "warning", "error", "critical")


@dataclass(frozen=True)
class Synthetic:
    """Generated alerts with the ground truth of which outage each belongs to."""

    alerts: list[Alert]
    outage_of: dict[int, int]  # id(alert) -> outage number (absent for noise)
    outage_roots: list[str]
    dependencies: dict[str, list[str]]


def build_graph(rng: random.Random) -> dict[str, list[str]]:
    """A layered service graph: frontends → APIs → backends → datastores (100 services)."""
    layers = [
        [f"frontend-{i}" for i in range(10)],
        [f"api-{i}" for i in range(40)],
        [f"backend-{i}" for i in range(40)],
        [f"store-{i}" for i in range(10)],
    ]
    fan_out = (3, 2, 1)
    graph: dict[str, list[str]] = {}
    for upper, lower, k in zip(layers, layers[1:], fan_out, strict=False):
        for service in upper:
            graph[service] = rng.sample(lower, k)
    return graph


def dependents(graph: dict[str, list[str]], root: str, hops: int) -> set[str]:
    """Services that depend on ``root`` within ``hops`` edges."""
    reverse: dict[str, list[str]] = {}
    for service, deps in graph.items():
        for dep in deps:
            reverse.setdefault(dep, []).append(service)
    found: set[str] = set()
    frontier = {root}
    for _ in range(hops):
        frontier = {s for f in frontier for s in reverse.get(f, [])} - found - {root}
        found |= frontier
    return found


def make(
    rng: random.Random, service: str, cluster: str, at_s: float, name: str, severity: str
) -> Alert:
    """One synthetic alert."""
    labels = {"alertname": name, "service": service, "cluster": cluster, "severity": severity}
    return Alert(
        source="bench",
        service=service,
        severity=severity,
        labels=labels,
        starts_at=T0 + timedelta(seconds=at_s),
        message=f"{name} on {service}",
        fingerprint=compute_fingerprint(labels, source="bench", service=service),
    )


def generate(n_alerts: int = N_ALERTS, seed: int = SEED) -> Synthetic:
    """Seeded alerts: about 70 % from cascading outages, the rest background noise."""
    rng = random.Random(seed)
    graph = build_graph(rng)
    services = sorted({s for s, deps in graph.items() for s in (s, *deps)})
    upstream_candidates = [s for s in services if not s.startswith("frontend")]
    alerts: list[Alert] = []
    outage_of: dict[int, int] = {}
    roots: list[str] = []
    while len(alerts) < int(n_alerts * 0.7):
        root = rng.choice(upstream_candidates)
        cluster = rng.choice(("eu", "us"))
        start_s = rng.uniform(0, SPAN_S)
        outage = len(roots)
        roots.append(root)
        root_alert = make(rng, root, cluster, start_s + rng.uniform(0, 60), "Down", "critical")
        batch = [root_alert]
        for service in sorted(dependents(graph, root, hops=2)):
            for name in rng.sample(ALERT_NAMES[:3], rng.randint(1, 2)):
                at_s = start_s + rng.uniform(0, 180)
                batch.append(make(rng, service, cluster, at_s, name, rng.choice(SEVERITIES[1:])))
        for alert in batch:
            outage_of[id(alert)] = outage
        alerts.extend(batch)
    while len(alerts) < n_alerts:
        alerts.append(
            make(
                rng,
                rng.choice(services),
                rng.choice(("eu", "us")),
                rng.uniform(0, SPAN_S),
                rng.choice(ALERT_NAMES),
                rng.choice(SEVERITIES[:2]),
            )
        )
    alerts = alerts[:n_alerts]
    rng.shuffle(alerts)
    return Synthetic(alerts, outage_of, roots, graph)


def run(repeats: int = 5) -> dict[str, Any]:
    """Correlate the synthetic set ``repeats`` times; return timings and quality figures."""
    data = generate()
    timings = []
    groups = []
    for _ in range(repeats):
        start = time.perf_counter()
        groups = correlate(data.alerts, window_s=WINDOW_S, dependencies=data.dependencies)
        timings.append(time.perf_counter() - start)
    start = time.perf_counter()
    dedupe(data.alerts)
    dedupe_s = time.perf_counter() - start
    median_s = statistics.median(timings)

    # for each outage, the group holding most of its alerts should name the injected root
    share: dict[int, Counter[int]] = {}
    pure = 0
    for index, group in enumerate(groups):
        outages = [data.outage_of[id(a)] for a in group.alerts if id(a) in data.outage_of]
        if len(set(outages)) <= 1:
            pure += 1
        for outage in outages:
            share.setdefault(outage, Counter())[index] += 1
    roots_right = sum(
        1
        for outage, counts in share.items()
        if groups[counts.most_common(1)[0][0]].root_cause.service == data.outage_roots[outage]
    )
    return {
        "alerts": len(data.alerts),
        "services": len({a.service for a in data.alerts}),
        "outages": len(data.outage_roots),
        "window_s": WINDOW_S,
        "repeats": repeats,
        "correlate_median_s": round(median_s, 4),
        "correlate_best_s": round(min(timings), 4),
        "alerts_per_s": round(len(data.alerts) / median_s),
        "dedupe_s": round(dedupe_s, 4),
        "groups": len(groups),
        "groups_with_at_most_one_outage": round(pure / len(groups), 4),
        "outage_root_cause_accuracy": round(roots_right / len(data.outage_roots), 4),
    }


def main() -> None:
    """Run the benchmark, print a markdown table, write ``var/bench/alerts.json``."""
    result = run()
    print("| metric | value |")
    print("|---|---|")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Path(OUT).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
