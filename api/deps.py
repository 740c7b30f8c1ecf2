"""Dependencies as `Annotated` aliases: settings, a database session, the producer, auth."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import fastapi.routing
from celery import Celery
from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from core import tokens
from core.config import Settings
from core.errors import Forbidden, InvalidInput, Unauthorized
from core.tables import utcnow
from core.validation import MAX_VERSION


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


bearer = HTTPBearer(
    auto_error=False,
    description="An API token: TRIOPS_API_TOKEN (admin), or one made by `triops token create`.",
)


SCOPES = tokens.SCOPES
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
    """The principal a bearer token stands for: the bootstrap admin token, or a live
    scoped token from the `api_tokens` table; Unauthorized for any other token."""
    expected: str = request.app.state.admin_token
    sent = token.encode("utf-8", "surrogatepass")
    if secrets.compare_digest(sent, expected.encode()):
        return Principal(name="admin", scope="admin")
    if not token.startswith(tokens.PREFIX):
        raise Unauthorized("invalid token")
    session: Session = request.app.state.sessionmaker()
    try:
        row = tokens.find_valid(session=session, token=token, now=utcnow())
        principal = Principal(name=row.name, scope=row.scope) if row is not None else None
    finally:
        session.close()
    if principal is None:
        raise Unauthorized("invalid, expired or revoked token")
    return principal


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


def require(scope: str) -> Any:
    """The dependency a route declares for the scope it needs (`dependencies=[require("read")]`):
    a token below it is a 403 that says which scope is needed.

    The scope is kept on the dependency (`scope_of(route)` reads it), so the route table
    the tests check is the one the code enforces.
    """
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def check(
        request: Request, principal: Annotated[Principal, Depends(require_token)]
    ) -> Principal:
        check_query_names(request)
        if not principal.can(scope):
            raise Forbidden(
                f"this call needs a token of scope {scope!r}; "
                f"{principal.name!r} has scope {principal.scope!r}"
            )
        return principal

    check.__name__ = f"require_{scope}"
    check.scope = scope  # type: ignore[attr-defined]
    return Depends(check)


def check_query_names(request: Request) -> None:
    """A query parameter the route does not take is a 422 naming the ones it does (a typo
    such as `?stauts=failed` would otherwise silently list everything)."""
    if not request.query_params:
        return
    known = query_names(request.app).get((id(request.scope.get("route")), request.method))
    if known is None:
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise InvalidInput(
            f"unknown query parameter {unknown[0]!r} (this call takes: {takes})",
            details=[
                {"loc": ["query", name], "msg": "unknown query parameter"} for name in unknown
            ],
        )


def query_names(app: Any) -> dict[tuple[int, str], set[str]]:
    """The query parameters of each route and method, from the OpenAPI document (built
    once per app, then kept on it)."""
    cached: dict[tuple[int, str], set[str]] | None = getattr(app.state, "query_names", None)
    if cached is not None:
        return cached
    paths = app.openapi().get("paths", {})
    found: dict[tuple[int, str], set[str]] = {}
    # Recent FastAPI keeps included routers whole: its iterator gives each route with the
    # full path it was included at (older versions list flat routes).
    for route in getattr(fastapi.routing, "iter_route_contexts", iter)(app.routes):
        original = getattr(route, "original_route", route)
        for method in getattr(route, "methods", None) or ():
            operation = paths.get(getattr(route, "path", None), {}).get(method.lower())
            if operation is not None:
                found[(id(original), method)] = {
                    p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"
                }
    app.state.query_names = found
    return found


def scope_of(endpoint_dependencies: list[Any]) -> str | None:
    """The scope a route declares among its dependencies (`route.dependencies`), if any."""
    found = [
        getattr(dep.dependency, "scope", None)
        for dep in endpoint_dependencies
        if getattr(dep.dependency, "scope", None)
    ]
    return found[-1] if found else None


VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="A version number: 1, 2, ...")]
"""A model or dataset version in a URL."""

SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(require_token)]
SessionDep = Annotated[Session, Depends(get_db)]
ProducerDep = Annotated[Celery, Depends(get_producer)]
