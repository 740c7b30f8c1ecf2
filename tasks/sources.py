"""Where a job's input comes from: uploaded files, files under the data directory,
dataset versions, and read-only queries on named SQL connections.

A source is read as chunks of at most `TRIOPS_ETL_CHUNK_ROWS` rows: (rows as read, the
lines that could not be parsed); see `tasks/readers.py`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.config import normalise_database_url
from core.db import make_engine
from core.errors import InvalidInput
from core.kinds.dataops import Source, ValidateParams
from domain.dataops.refs import DatasetRef
from tasks.base import JobContext
from tasks.readers import Chunk, parquet_chunks, read_chunks


def data_file(ctx: JobContext, relative: str) -> Path:
    """A file under the data directory; nothing outside it, even through links."""
    root = ctx.settings.data_root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput("path must stay inside the data directory")
    if not path.is_file():
        raise InvalidInput(f"no file {relative!r} in the data directory")
    return path


@contextmanager
def open_source(
    ctx: JobContext, source: Source, parameters: dict[str, str] | None = None
) -> Iterator[tuple[Iterator[Chunk], dict[str, Any]]]:
    """The source's chunks and its lineage entry."""
    size = ctx.settings.etl_chunk_rows
    if source.connection is not None:
        lineage = {
            "connection": source.connection,
            "query_sha256": hashlib.sha256((source.query or "").encode()).hexdigest(),
            "parameters": parameters or {},
        }
        yield read_sql(ctx, source, parameters or {}, size), lineage
    elif source.dataset is not None:
        with ctx.open_dataset(source.dataset) as (handle, row):
            yield (
                parquet_chunks(handle, size),
                {"dataset": str(source.dataset), "sha256": row.sha256},
            )
    elif source.file_id is not None:
        record = ctx.file_record(source.file_id)
        with ctx.local_file(source.file_id) as path:
            lineage = {"file_id": record.id, "name": record.name, "sha256": record.sha256}
            yield (
                read_chunks(
                    path, record.name, size, declared=source.format, delimiter=source.delimiter
                ),
                lineage,
            )
    else:
        assert source.path is not None
        path = data_file(ctx, source.path)
        chunks = read_chunks(
            path, path.name, size, declared=source.format, delimiter=source.delimiter
        )
        yield chunks, {"path": source.path}


def read_dataset(ctx: JobContext, ref: DatasetRef) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A dataset version (`name@version`) and its lineage entry."""
    frame, row = ctx.dataset_frame(ref)
    return frame, {"dataset": str(ref), "sha256": row.sha256}


def read_lookups(
    ctx: JobContext, steps: ValidateParams
) -> tuple[dict[str, pd.DataFrame], list[dict[str, Any]]]:
    """The dataset versions joins and referential checks read, and their lineage."""
    frames: dict[str, pd.DataFrame] = {}
    inputs = []
    for ref in steps.lookups:
        frames[ref], lineage = read_dataset(ctx, ref)
        inputs.append(lineage)
    return frames, inputs


def read_sql(
    ctx: JobContext, source: Source, parameters: dict[str, str], size: int
) -> Iterator[Chunk]:
    """Run the query read-only on the named connection; `:name` binds a parameter."""
    url = ctx.settings.sql_connections.get(source.connection or "")
    if url is None:
        raise InvalidInput(f"unknown connection {source.connection!r}")
    engine = make_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
            elif conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA query_only = ON")
            result = conn.execution_options(stream_results=True).execute(
                text(source.query or ""), parameters
            )
            columns = list(result.keys())
            yielded = False
            while rows := result.fetchmany(size):
                yield pd.DataFrame(rows, columns=columns), []
                yielded = True
            if not yielded:
                yield pd.DataFrame(columns=columns), []
    except (SQLAlchemyError, ValueError) as exc:
        # The URL helps whoever reads the error; its password is masked where the
        # error is recorded or logged (core/redaction.py), like any secret in a message.
        raise InvalidInput(f"query on {source.connection!r} ({url}) failed: {exc}") from exc
    finally:
        engine.dispose()


@contextmanager
def open_binary(ctx: JobContext, source: Source) -> Iterator[Any]:
    """The source file opened for binary reading (seekable, local or in the store)."""
    if source.file_id is not None:
        with ctx.open_file(source.file_id) as handle:
            yield handle
    else:
        assert source.path is not None
        with open(data_file(ctx, source.path), "rb") as handle:
            yield handle


def file_lineage(ctx: JobContext, source: Source) -> dict[str, Any]:
    record = ctx.file_record(source.file_id or "")
    return {"file_id": record.id, "name": record.name, "sha256": record.sha256}
