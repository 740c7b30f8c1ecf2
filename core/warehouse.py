"""Warehouse tables of the ETL: `wh_<name>` in the triops database, written in one
transaction together with the job's load record, so a load happens exactly once and a
load that dies midway leaves the table as it was."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    DateTime,
    Float,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    insert,
    inspect,
    select,
)
from sqlalchemy.types import TypeEngine

from core.errors import InvalidInput
from core.models import EtlLoad
from domain.dataops.load import LoadPlan, Mode, plan_load

PREFIX = "wh_"
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,50}$")


def table_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidInput(f"invalid table name {name!r}: lower-case letters, digits and _")
    return PREFIX + name


def _sql_type(series: pd.Series) -> TypeEngine[Any]:
    if pd.api.types.is_bool_dtype(series):
        return Boolean()
    if pd.api.types.is_integer_dtype(series):
        return BigInteger()
    if pd.api.types.is_float_dtype(series):
        return Float()
    if pd.api.types.is_datetime64_any_dtype(series):
        return DateTime(timezone=True)
    return Text()


def _table(name: str, frame: pd.DataFrame, keys: list[str]) -> Table:
    columns = [
        Column(str(c), _sql_type(frame[c]), primary_key=False, nullable=str(c) not in keys)
        for c in frame.columns
    ]
    return Table(name, MetaData(), *columns)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


COPY_MIN_ROWS = 1000


def _insert(conn: Connection, target: Table, frame: pd.DataFrame) -> None:
    """Insert rows; on PostgreSQL with COPY (several times faster than INSERTs), in the
    caller's transaction all the same."""
    if conn.dialect.name != "postgresql" or len(frame) < COPY_MIN_ROWS:
        conn.execute(target.insert(), _records(frame))
        return
    columns = ", ".join('"' + str(c).replace('"', '""') + '"' for c in frame.columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    clean = frame.astype(object).where(frame.notna(), None)
    with (
        raw.cursor() as cursor,
        cursor.copy(f'COPY "{target.name}" ({columns}) FROM STDIN') as copy,
    ):
        for row in clean.itertuples(index=False, name=None):
            copy.write_row(row)


def existing_rows(conn: Connection, name: str) -> pd.DataFrame | None:
    if not inspect(conn).has_table(name):
        return None
    table = Table(name, MetaData(), autoload_with=conn)
    return pd.DataFrame(conn.execute(select(table)).mappings().all(), columns=table.c.keys())


def load(
    conn: Connection,
    *,
    table: str,
    frame: pd.DataFrame,
    mode: Mode,
    keys: list[str],
    job_id: str,
    now: datetime,
) -> dict[str, int]:
    """Load `frame` into `wh_<table>`; returns what changed. Call inside a transaction."""
    done = conn.execute(select(EtlLoad.changes).where(EtlLoad.job_id == job_id)).scalar()
    if done is not None:
        return dict(done)  # this job's load is already in: a rerun changes nothing twice
    name = table_name(table)
    existing = existing_rows(conn, name)
    if existing is not None:
        extra = sorted(set(existing.columns) ^ set(frame.columns))
        if extra and mode != "replace":
            raise InvalidInput(
                f"the columns of {name} and of the data differ: {extra}; use mode replace",
                details={"columns": extra},
            )
        if extra:
            existing = None
    plan: LoadPlan = plan_load(existing, frame, mode=mode, keys=keys)
    target = _table(name, frame, keys)
    if existing is None and inspect(conn).has_table(name):
        target.drop(conn)
    if not inspect(conn).has_table(name):
        target.create(conn)
    if plan.delete_all:
        conn.execute(target.delete())
    if not plan.insert.empty:
        _insert(conn, target, plan.insert)
    if not plan.update.empty:
        others = [c for c in frame.columns if c not in keys]
        statement = (
            target.update()
            .where(and_(*(target.c[k] == bindparam(f"k_{k}") for k in keys)))
            .values({c: bindparam(f"v_{c}") for c in others})
        )
        rows = [
            {**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in others}}
            for r in _records(plan.update)
        ]
        conn.execute(statement, rows)
    conn.execute(
        insert(EtlLoad).values(
            job_id=job_id, target_table=name, mode=mode, changes=plan.changes, created_at=now
        )
    )
    return plan.changes


def read_table(conn: Connection, table: str) -> pd.DataFrame:
    frame = existing_rows(conn, table_name(table))
    if frame is None:
        raise InvalidInput(f"no warehouse table {table!r}")
    return frame
