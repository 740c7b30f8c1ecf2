"""`GET /api/v1/kinds`: the job catalog with each kind's params schema."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import require
from api.schemas.jobs import KindOut
from core.kinds import CATALOG

router = APIRouter(tags=["kinds"])


@router.get("/kinds", dependencies=[require("read")], response_model=list[KindOut])
def list_kinds() -> list[dict[str, object]]:
    """Every job kind: queue, description, time limit and JSON schema of its params."""
    return [kind.describe() for kind in sorted(CATALOG.values(), key=lambda k: k.name)]
