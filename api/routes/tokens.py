"""`/api/v1/tokens`: scoped API tokens, managed by an admin token."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import SessionDep, require
from api.schemas.tokens import TokenCreate, TokenIssued, TokenOut
from core import tokens
from core.tables import ApiToken, utcnow

router = APIRouter(tags=["tokens"])


@router.get("/tokens", dependencies=[require("admin")], response_model=list[TokenOut])
def list_tokens(session: SessionDep) -> list[ApiToken]:
    """Every token (never the token itself), newest first."""
    return tokens.list_tokens(session=session)


@router.post(
    "/tokens",
    dependencies=[require("admin")],
    response_model=TokenIssued,
    status_code=status.HTTP_201_CREATED,
)
def create_token(body: TokenCreate, session: SessionDep) -> TokenIssued:
    """Create a token; the answer holds the token, shown this once."""
    now = utcnow()
    expires_at = tokens.parse_expiry(body.expires, now=now) if body.expires else None
    issued = tokens.create_token(
        session=session, scope=body.scope, name=body.name, expires_at=expires_at, now=now
    )
    session.commit()
    out = TokenOut.model_validate(issued.row)
    return TokenIssued(**out.model_dump(), token=issued.token)


@router.post("/tokens/{ref}/revoke", dependencies=[require("admin")], response_model=TokenOut)
def revoke_token(ref: str, session: SessionDep) -> ApiToken:
    """Revoke a token by id or name; it stops working at once."""
    row = tokens.revoke_token(session=session, ref=ref, now=utcnow())
    session.commit()
    return row
