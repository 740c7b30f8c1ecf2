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
    case,
    exists,
    false,
    func,
    insert,
    inspect,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.types import TypeEngine

from core.errors import InvalidInput
from core.tables import EtlLoad
from domain.dataops.load import Mode

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


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {str(k): (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v) for k, v in row.items()}
        for row in clean.to_dict(orient="records")
    ]


def _insert(conn: Connection, target: Table, frame: pd.DataFrame) -> None:
    """Insert rows; on PostgreSQL with COPY (several times faster than INSERTs), in the
    caller's transaction all the same."""
    if conn.dialect.name != "postgresql":
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


def _count(conn: Connection, statement: Any) -> int:
    return int(conn.execute(statement).scalar() or 0)


class Load:
    """One load into `wh_<table>`, in the caller's transaction.

    Rows are staged chunk by chunk (`stage`) into a temporary table — COPY on
    PostgreSQL — so the worker never holds more than one chunk; `finish` then compares
    the staged rows with the target in SQL, writes only when something changed, and
    records the load with the job's id. A job whose load is already recorded changes
    nothing again; a transaction that dies leaves the target as it was.
    """

    def __init__(
        self,
        conn: Connection,
        *,
        table: str,
        mode: Mode,
        keys: list[str],
        job_id: str,
        now: datetime,
    ) -> None:
        self.conn = conn
        self.name = table_name(table)
        self.mode = mode
        self.keys = keys
        self.job_id = job_id
        self.now = now
        self.stage_table: Table | None = None
        self.staged = 0
        done = conn.execute(select(EtlLoad.changes).where(EtlLoad.job_id == job_id)).scalar()
        self.done: dict[str, int] | None = dict(done) if done is not None else None

    def stage(self, frame: pd.DataFrame) -> None:
        """Add rows to the load (call at least once, an empty frame gives the columns)."""
        if self.done is not None:
            return  # this job's load is already in: a rerun changes nothing twice
        if self.stage_table is None:
            self.stage_table = self._create_stage(frame)
        elif list(frame.columns) != list(self.stage_table.c.keys()):
            raise InvalidInput(
                f"the columns changed between chunks: {list(frame.columns)}",
                details={"columns": [str(c) for c in frame.columns]},
            )
        if len(frame):
            _insert(self.conn, self.stage_table, frame)
            self.staged += len(frame)

    def _create_stage(self, frame: pd.DataFrame) -> Table:
        target = self._target()
        columns = [str(c) for c in frame.columns]
        same = target is not None and sorted(target.c.keys()) == sorted(columns)
        types = {
            c: (target.c[c].type if same and target is not None else _sql_type(frame[c]))
            for c in columns
        }
        stage_name = "triops_stage"
        schema = "pg_temp" if self.conn.dialect.name == "postgresql" else "temp"
        self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {schema}.{stage_name}")
        stage = Table(
            stage_name,
            MetaData(),
            *(Column(c, types[c]) for c in columns),
            prefixes=["TEMPORARY"],
            postgresql_on_commit="DROP",
        )
        stage.create(self.conn)
        return stage

    def _target(self) -> Table | None:
        if not inspect(self.conn).has_table(self.name):
            return None
        return Table(self.name, MetaData(), autoload_with=self.conn)

    def finish(self) -> dict[str, int]:
        """Apply the staged rows to the target; returns what changed."""
        if self.done is not None:
            return self.done
        stage = self.stage_table
        if stage is None:
            raise RuntimeError("nothing was staged, not even the columns")
        columns = list(stage.c.keys())
        target = self._target()
        deleted = 0
        if target is not None and sorted(target.c.keys()) != sorted(columns):
            if self.mode != "replace":
                differ = sorted(set(target.c.keys()) ^ set(columns))
                raise InvalidInput(
                    f"the columns of {self.name} and of the data differ: {differ}; "
                    "use mode replace",
                    details={"columns": differ},
                )
            deleted = _count(self.conn, select(func.count()).select_from(target))
            target.drop(self.conn)
            target = None
        if target is None:
            target = Table(
                self.name,
                MetaData(),
                *(Column(c, stage.c[c].type, nullable=c not in self.keys) for c in columns),
            )
            target.create(self.conn)
            changes = {"inserted": self.staged, "updated": 0, "deleted": deleted}
            self._copy(target, stage, columns)
        elif self.mode == "append":
            changes = {"inserted": self.staged, "updated": 0, "deleted": 0}
            self._copy(target, stage, columns)
        elif self.keys:
            changes = self._by_keys(target, stage, columns)
        else:
            changes = self._replace_rows(target, stage, columns)
        self.conn.execute(
            insert(EtlLoad).values(
                job_id=self.job_id,
                target_table=self.name,
                mode=self.mode,
                changes=changes,
                created_at=self.now,
            )
        )
        stage.drop(self.conn)
        return changes

    def _copy(self, target: Table, stage: Table, columns: list[str]) -> None:
        if self.staged:
            self.conn.execute(
                target.insert().from_select(columns, select(*(stage.c[c] for c in columns)))
            )

    def _replace_rows(self, target: Table, stage: Table, columns: list[str]) -> dict[str, int]:
        """Replace without keys: the change is the multiset difference of the rows."""
        both = union_all(
            select(*(stage.c[c] for c in columns), literal(1).label("_side")),
            select(*(target.c[c] for c in columns), literal(-1).label("_side")),
        ).subquery()
        net = (
            select(func.sum(both.c._side).label("d"))
            .group_by(*(both.c[c] for c in columns))
            .subquery()
        )
        inserted, deleted = self.conn.execute(
            select(
                func.coalesce(func.sum(case((net.c.d > 0, net.c.d), else_=0)), 0),
                func.coalesce(func.sum(case((net.c.d < 0, -net.c.d), else_=0)), 0),
            )
        ).one()
        if inserted or deleted:
            self.conn.execute(target.delete())
            self._copy(target, stage, columns)
        return {"inserted": int(inserted), "updated": 0, "deleted": int(deleted)}

    def _by_keys(self, target: Table, stage: Table, columns: list[str]) -> dict[str, int]:
        """Upsert, or replace with keys: rows matched on the keys, compared null-safely."""
        keys = self.keys
        repeated = _count(
            self.conn,
            select(func.count()).select_from(
                select(*(stage.c[k] for k in keys))
                .group_by(*(stage.c[k] for k in keys))
                .having(func.count() > 1)
                .subquery()
            ),
        )
        if repeated:
            raise InvalidInput(
                f"{repeated} values of the keys {keys} repeat in the incoming rows; "
                "add a deduplicate transform or a unique check",
                details={"keys": keys, "repeated": repeated},
            )
        match = and_(*(target.c[k] == stage.c[k] for k in keys))
        others = [c for c in columns if c not in keys]
        differs = or_(false(), *(target.c[c].is_distinct_from(stage.c[c]) for c in others))
        updated = _count(
            self.conn,
            select(func.count()).select_from(stage.join(target, match)).where(differs),
        )
        new = ~exists().where(match)
        inserted = _count(self.conn, select(func.count()).select_from(stage).where(new))
        deleted = 0
        if self.mode == "replace":
            deleted = _count(
                self.conn,
                select(func.count()).select_from(target).where(~exists().where(match)),
            )
            if inserted or updated or deleted:
                self.conn.execute(target.delete())
                self._copy(target, stage, columns)
        else:
            if updated:
                self.conn.execute(
                    target.update().where(match, differs).values({c: stage.c[c] for c in others})
                )
            if inserted:
                self.conn.execute(
                    target.insert().from_select(
                        columns, select(*(stage.c[c] for c in columns)).where(new)
                    )
                )
        return {"inserted": inserted, "updated": updated, "deleted": deleted}
