"""A small HTTP client of the triops API, used by the CLI and the demo."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

FINISHED = {"succeeded", "failed", "cancelled"}


MAX_DETAILS = 5
"""How many field problems of a 422 the one-line form names."""


class ApiError(RuntimeError):
    """An answer of 400 or more from the API, with its JSON error body."""

    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body
        error = body.get("error") if isinstance(body, dict) else None
        self.message = (
            str(error.get("message")) if isinstance(error, dict) else str(body)[:300] or "no body"
        )
        self.details = error.get("details") if isinstance(error, dict) else None
        super().__init__(f"HTTP {status_code}: {self.message}")

    def one_line(self) -> str:
        """The error as one line: status, message, and the fields a 422 names."""
        line = f"HTTP {self.status_code}: {self.message}"
        problems = _field_problems(self.details)
        if problems:
            shown = "; ".join(problems[:MAX_DETAILS])
            more = len(problems) - MAX_DETAILS
            line += f" ({shown}{f'; {more} more' if more > 0 else ''})"
        if self.status_code == 401:
            line += " — set TRIOPS_API_TOKEN, or run where $TRIOPS_HOME/api-token is"
        return " ".join(line.split())


def _field_problems(details: Any) -> list[str]:
    """`loc: msg` for each problem of a validation error's details (lists of them, or
    per-index lists of a batch)."""
    if not isinstance(details, list):
        return []
    problems = []
    for item in details:
        if not isinstance(item, dict):
            continue
        if "msg" in item:
            where = ".".join(str(p) for p in item.get("loc", []) if p not in ("body",))
            problems.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
        elif "index" in item and "message" in item:
            problems.append(f"[{item['index']}] {item['message']}")
    return problems


def unreachable_message(url: str, exc: BaseException) -> str:
    """Why the API could not be reached, which URL was tried, and how to change it."""
    reason = "connection refused" if isinstance(exc, httpx.ConnectError) else type(exc).__name__
    return (
        f"cannot reach the triops API at {url} ({reason}): is the stack running "
        "(`triops up`)? Point the CLI elsewhere with TRIOPS_API_URL or TRIOPS_API_PORT."
    )


class TriopsClient:
    def __init__(self, base_url: str, token: str, *, timeout_s: float = 30.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> TriopsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _json(self, response: httpx.Response) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body

    def health(self) -> dict[str, Any]:
        response = self.http.get("/health")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, response.text) from exc
        return body

    def upload(self, path: Path) -> dict[str, Any]:
        with open(path, "rb") as handle:
            result: dict[str, Any] = self._json(
                self.http.post("/files", files={"file": (path.name, handle)})
            )
        return result

    def submit(
        self, kind: str, params: dict[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "params": params}
        if idempotency_key:
            body["idempotency_key"] = idempotency_key
        result: dict[str, Any] = self._json(self.http.post("/jobs", json=body))
        return result

    def create_pipeline(
        self, steps: list[dict[str, Any]], *, name: str | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            self.http.post("/pipelines", json={"name": name, "steps": steps})
        )
        return result

    def schedules(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._json(self.http.get("/schedules"))["schedules"]
        return result

    def create_schedule(self, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.post("/schedules", json=body))
        return result

    def schedule_action(self, ref: str, action: str) -> dict[str, Any]:
        """`pause`, `resume` (the schedule back) or `run-now` (the job it submitted)."""
        result: dict[str, Any] = self._json(self.http.post(f"/schedules/{ref}/{action}"))
        return result

    def delete_schedule(self, ref: str) -> None:
        self._json(self.http.delete(f"/schedules/{ref}"))

    def schedule_runs(self, ref: str, *, limit: int = 20) -> dict[str, Any]:
        result: dict[str, Any] = self._json(
            self.http.get(f"/schedules/{ref}/runs", params={"limit": limit})
        )
        return result

    def job(self, job_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._json(self.http.get(f"/jobs/{job_id}"))
        return result

    def jobs(self, **filters: Any) -> dict[str, Any]:
        query = {k: v for k, v in filters.items() if v is not None}
        result: dict[str, Any] = self._json(self.http.get("/jobs", params=query))
        return result

    def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = 300.0,
        poll_s: float = 0.25,
        on_update: Callable[[dict[str, Any]], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is finished; `on_update` sees every state."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if on_update is not None:
                on_update(job)
            if job["status"] in FINISHED:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job['status']} after {timeout_s} s")
            time.sleep(poll_s)
