"""Repository of named datasets and their versions (content, schema, stats, lineage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import Conflict, NotFound
from core.tables import DatasetRecord, DatasetVersion


def list_datasets(*, session: Session) -> list[DatasetRecord]:
    return list(session.scalars(select(DatasetRecord).order_by(DatasetRecord.name)))


KNOWN_SHOWN = 20
"""How many dataset names a "not found" lists."""


def get_dataset(*, session: Session, name: str) -> DatasetRecord:
    found = session.get(DatasetRecord, name)
    if found is None:
        known = list(
            session.scalars(
                select(DatasetRecord.name).order_by(DatasetRecord.name).limit(KNOWN_SHOWN + 1)
            )
        )
        listed = ", ".join(known[:KNOWN_SHOWN]) + (", ..." if len(known) > KNOWN_SHOWN else "")
        raise NotFound(
            f"dataset {name!r} not found; known: "
            + (listed or "none yet (an ETL with target.dataset makes one)"),
            details={"known_datasets": known[:KNOWN_SHOWN]},
        )
    return found


def versions(*, session: Session, name: str) -> list[DatasetVersion]:
    get_dataset(session=session, name=name)
    return list(
        session.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset == name)
            .order_by(DatasetVersion.version.desc())
        )
    )


def get_version(*, session: Session, name: str, version: int) -> DatasetVersion:
    found = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset == name, DatasetVersion.version == version
        )
    )
    if found is None:
        get_dataset(session=session, name=name)
        latest = session.scalar(
            select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset == name)
        )
        raise NotFound(
            f"dataset {name!r} has no version {version}; its versions are 1 to {latest}",
            details={"latest_version": latest},
        )
    return found


def add_version(
    *, session: Session, name: str, values: dict[str, Any], now: datetime
) -> tuple[DatasetVersion, bool]:
    """A new version, unless the latest has the same content (then that one, not new)."""
    dataset = session.get(DatasetRecord, name, with_for_update=True)
    if dataset is None:
        dataset = DatasetRecord(name=name, created_at=now, updated_at=now)
        session.add(dataset)
        session.flush()
    latest = session.scalar(
        select(DatasetVersion)
        .where(DatasetVersion.dataset == name)
        .order_by(DatasetVersion.version.desc())
        .limit(1)
    )
    if latest is not None and latest.fingerprint == values["fingerprint"]:
        return latest, False
    for _ in range(5):
        number = (latest.version if latest else 0) + 1
        row = DatasetVersion(dataset=name, version=number, created_at=now, **values)
        try:
            with session.begin_nested():
                session.add(row)
                session.flush()
        except IntegrityError:  # another job took that number: read the latest again
            latest = session.scalar(
                select(DatasetVersion)
                .where(DatasetVersion.dataset == name)
                .order_by(DatasetVersion.version.desc())
                .limit(1)
            )
            continue
        dataset.updated_at = now
        return row, True
    raise Conflict(f"could not allocate a version of dataset {name!r}; try again")


def downstream(*, session: Session, name: str, version: int) -> list[DatasetVersion]:
    """Versions whose inputs include this one."""
    marker = f'"{name}@{version}"'
    candidates = session.scalars(
        select(DatasetVersion).where(
            or_(DatasetVersion.dataset != name, DatasetVersion.version != version)
        )
    )
    return [v for v in candidates if any(i.get("dataset") == marker.strip('"') for i in v.inputs)]
