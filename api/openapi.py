"""The OpenAPI document: FastAPI's, completed with what a client must know.

- Every error answer has one shape (`ErrorBody`): `{"error": {"type", "message",
  "details"?}, "detail": "<the message>"}`, documented for each status a route can give:
  401 and 403 on every route behind the token, 404 where the path or the body names a
  resource, 409 where a request can contradict the current state, 413/415/422 where a
  request carries input, 503 when the database or the broker is down.
- Each operation says the scope its token needs (`x-scope`, and a line of its text).
- `POST /jobs` documents every kind's params: the body is a union over kinds,
  discriminated by `kind`, each with its params schema, and an example per kind.
"""

from __future__ import annotations

from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.deps import scope_of
from api.schemas.jobs import ErrorBody
from core.kinds import CATALOG

REF = "#/components/schemas/"

_DESCRIPTIONS = {
    "401": "Missing or invalid API token",
    "403": "The token is valid but its scope does not allow this call",
    "404": "No such resource (named in the path, or in the body: a model, a file, ...)",
    "409": "The request contradicts the current state (it changed nothing)",
    "413": "The request or upload is over the size limit",
    "415": "The body is not JSON (send Content-Type: application/json)",
    "422": "The input is invalid: the message and `details` say which field and why",
    "503": "The database or the broker is unavailable; try again shortly",
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document served at /openapi.json (built once, then cached on the app)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    document = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorBody.model_json_schema(ref_template=REF + "{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas["ErrorBody"] = error_schema
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    scopes = route_scopes(app)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            _complete_errors(path, method, operation)
            scope = scopes.get((path, method.upper()))
            if scope is not None:
                operation["x-scope"] = scope
                text = operation.get("description", "")
                operation["description"] = f"{text}\n\nScope: `{scope}`.".strip()
    _document_job_kinds(document)
    app.openapi_schema = document
    return document


def route_scopes(app: FastAPI) -> dict[tuple[str, str], str]:
    """The scope each API route declares (`require(...)`), by (path, METHOD)."""
    found: dict[tuple[str, str], str] = {}
    # Recent FastAPI keeps included routers whole; its iterator yields each route with the
    # prefix and dependencies it was included with (older versions list flat APIRoutes).
    contexts: Any = getattr(fastapi.routing, "iter_route_contexts", iter)(app.routes)
    for route in contexts:
        if isinstance(getattr(route, "original_route", route), APIRoute):
            scope = scope_of(list(route.dependencies or ()))
            if scope is not None:
                for method in route.methods or ():
                    found[(route.path, method)] = scope
    return found


def _error_response(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS[status],
        "content": {"application/json": {"schema": {"$ref": REF + "ErrorBody"}}},
    }


def _complete_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    wanted = ["503"]
    if operation.get("security"):
        wanted += ["401", "403"]
    if "{" in path or operation.get("requestBody"):
        wanted.append("404")
    if operation.get("parameters") or operation.get("requestBody"):
        wanted.append("422")
    if operation.get("requestBody"):
        wanted += ["413", "415"]
    if method in ("post", "patch", "put", "delete"):
        wanted.append("409")
    for status in wanted:
        existing = responses.get(status)
        if existing is None or "HTTPValidationError" in str(existing):
            responses[status] = _error_response(status)


def _document_job_kinds(document: dict[str, Any]) -> None:
    """`POST /jobs` (and each item of a batch): one variant per kind, with its params."""
    schemas = document["components"]["schemas"]
    variants = []
    mapping = {}
    examples: dict[str, Any] = {}
    for kind in sorted(CATALOG.values(), key=lambda k: k.name):
        params_schema = kind.params_model.model_json_schema(ref_template=REF + "{model}")
        schemas.update(params_schema.pop("$defs", {}))
        params_name = f"{kind.params_model.__name__}"
        schemas[params_name] = params_schema
        name = "Submit_" + kind.name.replace(".", "_")
        schemas[name] = {
            "title": f"Submit {kind.name}",
            "description": kind.description,
            "type": "object",
            "required": ["kind"],
            "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "const": kind.name, "enum": [kind.name]},
                "params": {"$ref": REF + params_name},
                "idempotency_key": schemas["JobSubmit"]["properties"]["idempotency_key"],
            },
        }
        variants.append({"$ref": REF + name})
        mapping[kind.name] = REF + name
        examples[kind.name] = {
            "summary": kind.description,
            "value": {"kind": kind.name, "params": kind.example},
        }
    schemas["JobSubmit"] = {
        "title": "JobSubmit",
        "description": "A job: its kind, the kind's params, and an optional idempotency key.",
        "oneOf": variants,
        "discriminator": {"propertyName": "kind", "mapping": mapping},
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "kind" and parameter["in"] == "query":
                    parameter["schema"] = {"anyOf": [{"enum": sorted(CATALOG)}, {"type": "null"}]}
    submit = document["paths"].get("/api/v1/jobs", {}).get("post")
    if submit is not None:
        content = submit["requestBody"]["content"]["application/json"]
        content["examples"] = examples
