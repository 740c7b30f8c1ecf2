"""Dependencies as `Annotated` aliases: settings, a database session, the producer, auth."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from celery import Celery
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core.config import Settings
from core.errors import Unauthorized


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        session.close()


def get_producer(request: Request) -> Celery:
    producer: Celery = request.app.state.celery
    return producer


bearer = HTTPBearer(auto_error=False, description="The API token (TRIOPS_API_TOKEN).")


SCOPES = ("read", "submit", "admin")
"""What a token may do, each including the ones before it: read everything; also submit,
cancel, deploy and change schedules; also manage tokens."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's name and what it may do."""

    name: str
    scope: str

    def can(self, scope: str) -> bool:
        return SCOPES.index(self.scope) >= SCOPES.index(scope)


def authenticate(request: Request, token: str) -> Principal:
    """The principal a bearer token stands for; Unauthorized for any other token."""
    expected: str = request.app.state.admin_token
    if secrets.compare_digest(token.encode(), expected.encode()):
        return Principal(name="admin", scope="admin")
    raise Unauthorized("invalid token")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from `Authorization: Bearer <token>`; anything else is a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    principal = authenticate(request, credentials.credentials)
    request.state.principal = principal
    return principal


SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(require_token)]
SessionDep = Annotated[Session, Depends(get_db)]
ProducerDep = Annotated[Celery, Depends(get_producer)]
