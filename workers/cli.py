"""The `triops` command line."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from core.config import Settings, get_settings
from core.errors import TriopsError


def _settings() -> Settings:
    """This invocation's settings (read from the environment when the command started)."""
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().obj if ctx is not None else None
    return root if isinstance(root, Settings) else get_settings()


def _client() -> Any:
    from workers.client import TriopsClient

    settings = _settings()
    return TriopsClient(settings.api_url, settings.admin_token())


def _fail(message: str, code: int = 1) -> NoReturn:
    from core.redaction import redact

    click.echo(f"error: {redact(message)}", err=True)
    sys.exit(code)


class Cli(click.Group):
    """The root group: an API error, an unreachable API or a bad setting is one
    `error: ...` line on stderr and a non-zero exit, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        import httpx

        from workers.client import ApiError, unreachable_message

        try:
            return super().invoke(ctx)
        except ApiError as exc:
            _fail(exc.one_line(), 1)
        except httpx.TransportError as exc:
            settings = ctx.obj if isinstance(ctx.obj, Settings) else None
            url = settings.api_url if settings else "the API"
            _fail(unreachable_message(url, exc), 2)
        except TimeoutError as exc:
            _fail(str(exc), 1)
        except TriopsError as exc:
            _fail(exc.message, 1)


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """triops: AIOps, MLOps and DataOps jobs on Celery + Redis."""
    try:
        ctx.obj = Settings.from_env(os.environ)
    except ValueError as exc:
        _fail(f"bad configuration: {exc}".splitlines()[0], 1)


@main.command()
@click.option("--demo", is_flag=True, help="Also run the sample scenario once the stack is up.")
def up(demo: bool) -> None:
    """Run the whole stack in the foreground: migrations, Redis, API, workers, beat, Flower."""
    from workers.launcher import Stack, flower_refusal

    settings = _settings()
    refusal = flower_refusal(settings)
    if refusal is not None:
        _fail(f"not starting: {refusal}", 2)
    sys.exit(Stack(settings, demo=demo).run())


@main.command()
@click.option("--host", default=None, help="Bind address (default TRIOPS_API_HOST).")
@click.option("--port", type=int, default=None, help="Port (default TRIOPS_API_PORT).")
def api(host: str | None, port: int | None) -> None:
    """Run the HTTP API (uvicorn)."""
    import uvicorn

    from core.logs import configure

    settings = _settings()
    configure(json_lines=settings.log_json)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        proxy_headers=True,
        log_config=None,  # our handler and format (core/logs.py) for every line
        access_log=False,  # the API logs each request itself, with its id and duration
        workers=settings.api_workers,
    )


@main.command()
@click.argument("pool", type=click.Choice(["aiops", "mlops", "dataops"]))
@click.option("--loglevel", default="INFO", show_default=True)
def worker(pool: str, loglevel: str) -> None:
    """Run one worker of POOL (it also serves the system queue)."""
    from core.liveness import INSTANCE_ENV, instance_name

    # Each pool process runs one job at a time: two connections are plenty.
    os.environ.setdefault("TRIOPS_DB_POOL_SIZE", "2")
    # This worker instance, inherited by its pool: jobs are leased to it (core/liveness).
    os.environ[INSTANCE_ENV] = instance_name(pool, socket.gethostname(), os.getpid())
    get_settings.cache_clear()
    settings = get_settings()
    from workers.observability import serve_worker_metrics

    # Before prometheus_client is imported anywhere: the pool's children then write
    # their samples where this process can sum them.
    serve_worker_metrics(settings, pool)
    from workers.app import app
    from workers.pools import pools

    chosen = pools(settings)[pool]
    app.worker_main(chosen.worker_argv(loglevel=loglevel, task_events=settings.task_events))


@main.command()
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    """Run the periodic scheduler (Celery beat over the schedules table; any number may
    run side by side, each firing happens once)."""
    from workers.app import app

    app.start(["beat", f"--loglevel={loglevel}"])


@main.command()
def flower() -> None:
    """Run Flower, the Celery monitor (basic auth from TRIOPS_FLOWER_BASIC_AUTH)."""
    from workers.launcher import flower_refusal

    settings = _settings()
    refusal = flower_refusal(settings)
    if refusal is not None:
        _fail(f"not starting Flower: {refusal}", 2)
    from workers.app import app

    argv = ["flower", f"--port={settings.flower_port}", f"--address={settings.flower_host}"]
    if settings.flower_basic_auth is not None:
        argv.append(f"--basic_auth={settings.flower_basic_auth.get_secret_value()}")
    else:
        # Without basic auth Flower's REST API answers 401; on loopback (the only place
        # it may run without auth, see flower_refusal) we open it.
        os.environ.setdefault("FLOWER_UNAUTHENTICATED_API", "true")
    app.start(argv)


@main.command()
def redis() -> None:
    """Run only the embedded Redis, in the foreground."""
    import signal
    import threading

    from workers import embedded_redis

    settings = _settings()
    process = embedded_redis.start(settings.home, settings.redis_socket)
    click.echo(f"redis on {settings.redis_socket}; Ctrl-C stops it")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5) and process.poll() is None:
            pass
    except KeyboardInterrupt:
        pass
    finally:
        embedded_redis.stop(process)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    from core.migrate import upgrade

    settings = _settings()
    upgrade(settings, revision)
    from core.redaction import redact

    click.echo(f"database at {revision}: {redact(settings.database_url)}")


@main.group()
def token() -> None:
    """Scoped API tokens (kept in the database as hashes; works without the API running)."""


@token.command("create")
@click.option(
    "--scope",
    type=click.Choice(["read", "submit", "admin"]),
    required=True,
    help="read: every GET; submit: also submit, cancel, deploy, alerts, schedules, uploads; "
    "admin: also manage tokens.",
)
@click.option("--name", default=None, help="A unique name (default token-<hash prefix>).")
@click.option(
    "--expires",
    default=None,
    help="A duration from now (90m, 12h, 30d, 2w) or an ISO date or date-time (UTC).",
)
def token_create(scope: str, name: str | None, expires: str | None) -> None:
    """Create a token and print it, once: it is stored only as a hash."""
    from core import tokens
    from core.db import session_scope
    from core.tables import utcnow

    now = utcnow()
    expires_at = tokens.parse_expiry(expires, now=now) if expires else None
    with session_scope(_settings()) as session:
        issued = tokens.create_token(
            session=session, scope=scope, name=name, expires_at=expires_at, now=now
        )
        row = issued.row
        until = row.expires_at.isoformat(timespec="seconds") if row.expires_at else "never"
        click.echo(
            f"created token {row.name} ({row.id}), scope {row.scope}, expires {until}", err=True
        )
        click.echo("it is shown this once; keep it now:", err=True)
    click.echo(issued.token)


@token.command("list")
def token_list() -> None:
    """Every token: name, id, scope, state, created, expires, last used (never the token)."""
    from core import tokens
    from core.db import session_scope
    from core.tables import utcnow

    def when(value: Any) -> str:
        return value.isoformat(timespec="seconds") if value is not None else "-"

    now = utcnow()
    with session_scope(_settings()) as session:
        rows = [
            (
                r.name,
                r.id,
                r.scope,
                tokens.state(r, now=now),
                when(r.created_at),
                when(r.expires_at),
                when(r.last_used_at),
            )
            for r in tokens.list_tokens(session=session)
        ]
    if not rows:
        click.echo("no tokens (TRIOPS_API_TOKEN is the admin token)")
        return
    _table([("NAME", "ID", "SCOPE", "STATE", "CREATED", "EXPIRES", "LAST USED"), *rows])


@token.command("revoke")
@click.argument("ref")
def token_revoke(ref: str) -> None:
    """Revoke the token named or numbered REF; it stops working at once."""
    from core import tokens
    from core.db import session_scope
    from core.tables import utcnow

    with session_scope(_settings()) as session:
        row = tokens.revoke_token(session=session, ref=ref, now=utcnow())
        click.echo(f"revoked {row.name} ({row.id})")


def parse_param(text: str) -> tuple[str, Any]:
    """`key=value`; the value is read as JSON when it parses, else kept as a string."""
    if "=" not in text:
        raise click.BadParameter(f"{text!r} is not key=value")
    key, raw = text.split("=", 1)
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key.strip(), value


@main.command()
@click.argument("kind")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value may be JSON).")
@click.option(
    "--params-file", type=click.Path(exists=True, dir_okay=False), help="A JSON object of params."
)
@click.option(
    "--file",
    "upload",
    type=click.Path(exists=True, dir_okay=False),
    help="Upload this file and pass its id as file_id.",
)
@click.option("--idempotency-key", default=None)
@click.option("--wait", is_flag=True, help="Wait for the job and show its progress.")
def submit(
    kind: str,
    params: tuple[str, ...],
    params_file: str | None,
    upload: str | None,
    idempotency_key: str | None,
    wait: bool,
) -> None:
    """Submit a job of KIND through the API."""
    values: dict[str, Any] = {}
    if params_file:
        try:
            loaded = json.loads(Path(params_file).read_text())
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--params-file") from exc
        if not isinstance(loaded, dict):
            raise click.BadParameter("must hold a JSON object", param_hint="--params-file")
        values.update(loaded)
    values.update(dict(parse_param(p) for p in params))
    with _client() as client:
        if upload:
            values["file_id"] = client.upload(Path(upload))["id"]
        job = client.submit(kind, values, idempotency_key=idempotency_key)
        click.echo(job["id"])
        if wait:
            _wait_and_show(client, job["id"])


def progress_bar(fraction: float, width: int = 30) -> str:
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    return "[" + "#" * filled + " " * (width - filled) + f"] {fraction * 100:5.1f}%"


def _wait_and_show(client: Any, job_id: str) -> None:
    interactive = sys.stderr.isatty()

    def show(job: dict[str, Any]) -> None:
        line = (
            f"{progress_bar(job['progress'])} {job['status']} {job.get('progress_message') or ''}"
        )
        if interactive:
            click.echo("\r" + line.ljust(100), nl=False, err=True)

    job = client.wait(job_id, timeout_s=24 * 3600, on_update=show)
    if interactive:
        click.echo("", err=True)
    click.echo(json.dumps(job, indent=2))
    if job["status"] != "succeeded":
        sys.exit(1)


@main.command()
@click.argument("job_id")
@click.option("--wait", is_flag=True, help="Show a progress bar until the job is finished.")
def status(job_id: str, wait: bool) -> None:
    """Show a job (and wait for it with --wait)."""
    with _client() as client:
        if wait:
            _wait_and_show(client, job_id)
        else:
            click.echo(json.dumps(client.job(job_id), indent=2))


@main.command()
@click.option("--kind", default=None)
@click.option("--status", "status_", default=None)
@click.option("--limit", default=20, show_default=True)
def jobs(kind: str | None, status_: str | None, limit: int) -> None:
    """List recent jobs as a table."""
    with _client() as client:
        page = client.jobs(kind=kind, status=status_, limit=limit)
    _job_table(page["jobs"])


def _job_table(items: list[dict[str, Any]]) -> None:
    rows = [("ID", "KIND", "STATUS", "PROGRESS", "WORKER", "CREATED")]
    for job in items:
        rows.append(
            (
                job["id"],
                job["kind"],
                job["status"],
                f"{job['progress'] * 100:.0f}%",
                job["worker"] or "-",
                job["created_at"][:19],
            )
        )
    _table(rows)


def _table(rows: list[tuple[Any, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def expand_range(text: str) -> tuple[str, list[str]]:
    """`name=START..END`: every day between two ISO dates, or every integer, inclusive."""
    from datetime import date, timedelta

    if "=" not in text or ".." not in text:
        raise click.BadParameter(f"{text!r} is not name=START..END")
    name, span = text.split("=", 1)
    start, end = span.split("..", 1)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
        days = (last - first).days
        values = [(first + timedelta(days=i)).isoformat() for i in range(days + 1)]
    except ValueError:
        try:
            values = [str(i) for i in range(int(start), int(end) + 1)]
        except ValueError as exc:
            raise click.BadParameter(f"{span!r}: dates (YYYY-MM-DD) or integers") from exc
    if not values or len(values) > 1000:
        raise click.BadParameter(f"{span!r} gives {len(values)} values (1 to 1000)")
    return name.strip(), values


@main.group()
def etl() -> None:
    """DataOps ETL specs."""


@etl.command("run")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--param", "params", multiple=True, help="name=value for {name} in the source path.")
@click.option(
    "--range",
    "span",
    default=None,
    help="Backfill: name=2026-11-01..2026-11-07 (days) or name=1..10, one run per value, in "
    "order; the first failure stops the rest.",
)
@click.option("--wait", is_flag=True, help="Wait for the run(s) and print the results.")
def etl_run(spec: str, params: tuple[str, ...], span: str | None, wait: bool) -> None:
    """Run an ETL SPEC (YAML or JSON: source, transforms, checks, target)."""
    from core.kinds.dataops import ETL

    loaded = _load_mapping(spec, "the spec")
    fixed = {k: str(v) for k, v in (parse_param(p) for p in params)}
    runs = [fixed]
    if span:
        name, values = expand_range(span)
        runs = [{**fixed, name: value} for value in values]
    steps = [
        {
            "kind": ETL.name,
            "params": {**loaded, "parameters": {**loaded.get("parameters", {}), **run}},
        }
        for run in runs
    ]
    with _client() as client:
        if len(steps) == 1:
            ids = [client.submit(ETL.name, steps[0]["params"])["id"]]
        else:
            body = client.create_pipeline(steps, name=f"backfill {spec}")
            ids = [step["id"] for step in body["steps"]]
            click.echo(f"pipeline {body['id']}")
        for job_id in ids:
            click.echo(job_id)
        if wait:
            failed = False
            for job_id in ids:
                job = client.wait(job_id, timeout_s=24 * 3600)
                click.echo(
                    json.dumps(
                        {
                            "id": job_id,
                            "status": job["status"],
                            "result": job["result"],
                            "error": job["error"],
                        },
                        indent=2,
                    )
                )
                failed = failed or job["status"] != "succeeded"
            if failed:
                sys.exit(1)


@main.group()
def schedules() -> None:
    """Periodic jobs: list, add, pause, resume, run now, delete (NAME or id)."""


@schedules.command("list")
def schedules_list() -> None:
    """Every schedule with its timing, state, next run and last status."""
    with _client() as client:
        items = client.schedules()
    rows: list[tuple[Any, ...]] = [("NAME", "KIND", "EVERY", "STATE", "NEXT RUN", "LAST", "")]
    for item in items:
        rows.append(
            (
                item["name"],
                item["kind"],
                item["every"],
                "enabled" if item["enabled"] else "paused",
                (item["next_run_at"] or "-")[:19],
                item["last_status"] or "-",
                "built-in" if item["builtin"] else "",
            )
        )
    _table(rows)


@schedules.command("add")
@click.argument("name")
@click.option("--kind", required=True, help="The job kind, e.g. aiops.parse_logs.")
@click.option("-p", "--param", "params", multiple=True, help="key=value (value may be JSON).")
@click.option(
    "--params-file",
    type=click.Path(exists=True, dir_okay=False),
    help="The params as a JSON or YAML object (an ETL spec, say).",
)
@click.option("--every", "interval_s", type=float, default=None, help="Seconds between runs.")
@click.option("--cron", default=None, help="Five fields: minute hour day month weekday.")
@click.option("--tz", "timezone", default="UTC", show_default=True, help="The cron's zone.")
@click.option("--overlap", type=click.Choice(["skip", "allow"]), default="skip", show_default=True)
@click.option("--misfire", type=click.Choice(["once", "skip"]), default="once", show_default=True)
@click.option("--paused", is_flag=True, help="Create it paused.")
def schedules_add(
    name: str,
    kind: str,
    params: tuple[str, ...],
    params_file: str | None,
    interval_s: float | None,
    cron: str | None,
    timezone: str,
    overlap: str,
    misfire: str,
    paused: bool,
) -> None:
    """Add schedule NAME running a job of --kind --every N seconds or on a --cron."""
    values: dict[str, Any] = _load_mapping(params_file, "the params file") if params_file else {}
    values.update(dict(parse_param(p) for p in params))
    body = {
        "name": name,
        "kind": kind,
        "params": values,
        "interval_s": interval_s,
        "cron": cron,
        "timezone": timezone,
        "overlap": overlap,
        "misfire": misfire,
        "enabled": not paused,
    }
    made = _schedule_call(lambda client: client.create_schedule(body))
    click.echo(f"{made['name']} ({made['id']}): {made['every']}, next run {made['next_run_at']}")


def _schedule_call(call: Any) -> Any:
    with _client() as client:
        return call(client)


def _load_mapping(path: str, what: str) -> dict[str, Any]:
    """A YAML or JSON file holding one mapping; anything else is a usage error."""
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{what} is not YAML or JSON: {exc}".splitlines()[0]) from exc
    if not isinstance(loaded, dict):
        raise click.BadParameter(f"{what} must hold a mapping (key: value)")
    return loaded


@schedules.command("pause")
@click.argument("ref")
def schedules_pause(ref: str) -> None:
    """Pause schedule REF (name or id); beat stops firing it within a second."""
    item = _schedule_call(lambda client: client.schedule_action(ref, "pause"))
    click.echo(f"{item['name']}: paused")


@schedules.command("resume")
@click.argument("ref")
def schedules_resume(ref: str) -> None:
    """Resume schedule REF from now (runs missed while paused are not caught up)."""
    item = _schedule_call(lambda client: client.schedule_action(ref, "resume"))
    click.echo(f"{item['name']}: enabled, next run {item['next_run_at']}")


@schedules.command("run-now")
@click.argument("ref")
def schedules_run_now(ref: str) -> None:
    """Run schedule REF's job now; prints the job id."""
    job = _schedule_call(lambda client: client.schedule_action(ref, "run-now"))
    click.echo(job["id"])


@schedules.command("delete")
@click.argument("ref")
def schedules_delete(ref: str) -> None:
    """Delete schedule REF (its past runs stay listed as jobs)."""
    _schedule_call(lambda client: client.delete_schedule(ref))
    click.echo(f"{ref}: deleted")


@schedules.command("runs")
@click.argument("ref")
@click.option("--limit", default=20, show_default=True)
def schedules_runs(ref: str, limit: int) -> None:
    """The latest runs of schedule REF."""
    page = _schedule_call(lambda client: client.schedule_runs(ref, limit=limit))
    _job_table(page["jobs"])


@main.command("env")
def env_command() -> None:
    """Print the exports for a second shell: eval "$(triops env)" sets TOKEN and API."""
    for line in _settings().export_lines():
        click.echo(line)


@main.command()
@click.option("--check", is_flag=True, help="One line; exit 0 healthy, 1 degraded, 2 unreachable.")
def health(check: bool) -> None:
    """Show broker, database and workers per pool."""
    import httpx

    from workers.client import TriopsClient, unreachable_message

    settings = _settings()
    try:
        with TriopsClient(settings.api_url, "-") as client:
            body = client.health()
    except (httpx.TransportError, ValueError) as exc:
        if check:
            click.echo(f"unreachable: {settings.api_url} ({type(exc).__name__})")
            sys.exit(2)
        _fail(unreachable_message(settings.api_url, exc), 2)
    if check:
        status = body.get("status", "unknown")
        idle = [pool for pool, workers in (body.get("workers") or {}).items() if not workers]
        line = status if not idle else f"{status}: no worker in pool {', '.join(idle)}"
        down = [name for name in ("database", "broker") if not (body.get(name) or {}).get("ok")]
        if down:
            line += f" ({' and '.join(down)} unavailable)"
        click.echo(line)
        sys.exit(0 if status == "ok" else 1)
    click.echo(json.dumps(body, indent=2))


if __name__ == "__main__":
    main()
