"""Dependencies as `Annotated` aliases: settings, a database session, the producer, auth."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
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


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Accept the admin token; anything else is a 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    expected: str = request.app.state.admin_token
    if not secrets.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise Unauthorized("invalid token")
    return "admin"


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_db)]
ProducerDep = Annotated[Celery, Depends(get_producer)]
