"""MkDocs hook: the reference pages are generated from the code at build time.

- `<!-- triops:http-api -->` becomes the HTTP API reference, rendered from the OpenAPI
  document of `create_app()` (built with a throwaway `TRIOPS_HOME` and token, so nothing
  is written under `var/`); the document itself is published as `reference/openapi.json`.
- `<!-- triops:cli -->` becomes the CLI reference, from the click commands of
  `workers.cli:main`.
- `<!-- triops:job-kinds -->` becomes the job catalog, from `core.kinds.CATALOG`.

It also checks that the configuration page names every setting of `core.config.Settings`,
and that no page names a `TRIOPS_*` variable that is no setting (each is a warning, so
`mkdocs build --strict` fails on it).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from functools import cache
from typing import Any

import click

log = logging.getLogger("mkdocs.hooks.triops")

HTTP_API_PAGE = "reference/http-api.md"
CONFIGURATION_PAGE = "reference/configuration.md"
OPENAPI_FILE = "reference/openapi.json"

# ------------------------------------------------------------------ OpenAPI


@cache
def openapi_document() -> dict[str, Any]:
    from api.main import create_app
    from core.config import Settings
    from core.db import dispose_engines

    with tempfile.TemporaryDirectory(prefix="triops-docs-build-") as home:
        app = create_app(
            Settings.from_env(
                {"TRIOPS_HOME": home, "TRIOPS_API_TOKEN": "docs-build-token-0123456789"}
            )
        )
        document = app.openapi()
        dispose_engines()
    return document


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def schema_anchor(name: str) -> str:
    return f"schema-{slug(name)}"


def cell(text: object) -> str:
    """Text safe inside a Markdown table cell: pipes escaped outside code spans (inside
    them the table extension already keeps them)."""
    parts = str(text).replace("\n", " ").split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts)).strip()


def type_of(schema: dict[str, Any], *, link: bool = True) -> str:
    """A short, readable type: `string`, `list[JobOut]`, `integer or null`, ..."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{schema_anchor(name)})" if link else name
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " or ".join(json.dumps(v) for v in schema["enum"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [type_of(s, link=link) for s in schema[key]]
            unique = list(dict.fromkeys(options))
            return " or ".join(unique)
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"list[{type_of(schema.get('items', {}), link=link)}]"
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            return f"dict[string, {type_of(extra, link=link)}]"
        return "object"
    if kind == "string" and schema.get("format") == "binary":
        return "file"
    if kind is None:
        return "any"
    fmt = schema.get("format")
    return f"{kind} ({fmt})" if fmt and kind == "string" else str(kind)


def constraints(schema: dict[str, Any]) -> str:
    """Bounds and patterns worth knowing, from a property's schema (and its anyOf)."""
    parts: list[str] = []
    seen = [schema, *schema.get("anyOf", [])]
    for s in seen:
        for key, label in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
            ("minLength", "min length"),
            ("maxLength", "max length"),
            ("minItems", "min items"),
            ("maxItems", "max items"),
        ):
            if key in s:
                parts.append(f"{label} {s[key]}")
        if "pattern" in s:
            parts.append(f"pattern `{s['pattern']}`")
    return ", ".join(parts)


def fields_table(schema: dict[str, Any]) -> list[str]:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        return [f"Type: {type_of(schema)}.", ""]
    required = set(schema.get("required", []))
    lines = ["| field | type | required | default | description |", "|---|---|---|---|---|"]
    for name, prop in properties.items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        if name in required:
            default = ""
        description = prop.get("description", "")
        limits = constraints(prop)
        if limits:
            description = f"{description} ({limits})" if description else limits
        lines.append(
            f"| `{name}` | {cell(type_of(prop))} | {'yes' if name in required else ''} "
            f"| {cell(default)} | {cell(description)} |"
        )
    lines.append("")
    if schema.get("additionalProperties") is False:
        lines += ["Unknown fields are refused (422).", ""]
    return lines


def response_body(response: dict[str, Any]) -> str:
    content = response.get("content", {})
    if not content:
        return ""
    media, body = next(iter(content.items()))
    schema = body.get("schema", {})
    if media == "application/json":
        return type_of(schema) if schema else "JSON"
    return f"`{media}`"


def render_operation(path: str, method: str, op: dict[str, Any]) -> list[str]:
    anchor = slug(f"{method} {path}")
    lines = [f"### `{method.upper()} {path}` {{#{anchor}}}", ""]
    summary = op.get("summary", "")
    description = op.get("description", "")
    lines += [f"**{summary}.** {description}".strip(), ""]
    if not op.get("security"):
        lines += ["No token needed.", ""]
    params = op.get("parameters", [])
    if params:
        lines += ["| parameter | in | type | required | default | description |"]
        lines += ["|---|---|---|---|---|---|"]
        for p in params:
            schema = p.get("schema", {})
            default = f"`{json.dumps(schema['default'])}`" if "default" in schema else ""
            description = p.get("description", "") or schema.get("description", "")
            limits = constraints(schema)
            if limits:
                description = f"{description} ({limits})" if description else limits
            lines.append(
                f"| `{p['name']}` | {p['in']} | {cell(type_of(schema))} "
                f"| {'yes' if p.get('required') else ''} | {cell(default)} | {cell(description)} |"
            )
        lines.append("")
    body = op.get("requestBody")
    if body:
        for media, content in body.get("content", {}).items():
            schema = content.get("schema", {})
            required = " (required)" if body.get("required") else ""
            lines += [f"Request body{required}, `{media}`: {type_of(schema)}", ""]
            if "$ref" not in schema and schema.get("properties"):
                lines += fields_table(schema)
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for status, response in op.get("responses", {}).items():
        meaning = response.get("description", "")
        if status == "422" and meaning == "Validation Error":
            meaning = "Invalid input: the error names each field"
        lines.append(f"| {status} | {cell(meaning)} | {cell(response_body(response))} |")
    lines.append("")
    return lines


def render_http_api() -> str:
    document = openapi_document()
    by_tag: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((path, method, op))
    lines: list[str] = []
    info = document["info"]
    lines += [f"OpenAPI {document['openapi']}, *{info['title']}* {info['version']}.", ""]
    lines += ["| method | path | summary |", "|---|---|---|"]
    for tag in by_tag:
        for path, method, op in by_tag[tag]:
            anchor = slug(f"{method} {path}")
            lines.append(
                f"| {method.upper()} | [`{path}`](#{anchor}) | {cell(op.get('summary', ''))} |"
            )
    lines.append("")
    for tag, operations in by_tag.items():
        lines += [f"## {tag}", ""]
        for path, method, op in operations:
            lines += render_operation(path, method, op)
    lines += ["## Schemas", ""]
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        lines += [f"### {name} {{#{schema_anchor(name)}}}", ""]
        if schema.get("description"):
            lines += [schema["description"], ""]
        lines += fields_table(schema)
    return "\n".join(lines)


# ------------------------------------------------------------------ job kinds


def render_job_kinds() -> str:
    from core.kinds import CATALOG

    kinds = sorted(CATALOG.values(), key=lambda k: (k.queue, k.name))
    lines = ["| kind | queue | what it does | time limit |", "|---|---|---|---|"]
    for kind in kinds:
        lines.append(
            f"| [`{kind.name}`](#{slug(kind.name)}) | {kind.queue} | {cell(kind.description)} "
            f"| {kind.time_limit_s:g} s |"
        )
    lines.append("")
    for kind in kinds:
        described = kind.describe()
        lines += [f"## `{kind.name}` {{#{slug(kind.name)}}}", ""]
        lines += [f"{kind.description}", ""]
        lines += [
            f"Queue `{kind.queue}`; hard time limit {kind.time_limit_s:g} s (the task is "
            f"told to stop at {kind.soft_time_limit_s:g} s); at most {kind.max_attempts} "
            "attempts for transient failures.",
            "",
        ]
        schema = described["params_schema"]
        definitions = schema.get("$defs", {})
        lines += ["Params:", ""]
        lines += [_unlink(line) for line in fields_table(schema)]
        for name, definition in definitions.items():
            lines += [f"`{name}`:", ""]
            lines += [_unlink(line) for line in fields_table(definition)]
    return "\n".join(lines)


def _unlink(line: str) -> str:
    """Params schemas use local $defs: show their names without links."""
    return re.sub(r"\[([A-Za-z0-9_]+)\]\(#schema-[a-z0-9-]+\)", r"`\1`", line)


# ------------------------------------------------------------------ CLI


def render_cli() -> str:
    from workers.cli import main

    lines: list[str] = []

    def walk(command: click.Command, name: str, parent: click.Context | None) -> None:
        ctx = click.Context(command, info_name=name, parent=parent)
        heading = "#" * (len(ctx.command_path.split()) + 1)  # triops: ##, triops up: ###
        lines.extend([f"{heading} `{ctx.command_path}` {{#{slug(ctx.command_path)}}}", ""])
        if command.help:
            lines.extend([click.unstyle(command.help).strip(), ""])
        usage = command.collect_usage_pieces(ctx)
        lines.extend(["```text", f"{ctx.command_path} {' '.join(usage)}".rstrip(), "```", ""])
        rows = []
        for param in command.get_params(ctx):
            if isinstance(param, click.Argument):
                rows.append((f"`{param.human_readable_name}`", "argument", _param_type(param), ""))
                continue
            record = param.get_help_record(ctx)
            if record is None:
                continue
            names, help_text = record
            rows.append((f"`{names}`", "option", _param_type(param), help_text))
        if rows:
            lines.extend(["| name | | type | help |", "|---|---|---|---|"])
            lines.extend(f"| {cell(a)} | {b} | {cell(c)} | {cell(d)} |" for a, b, c, d in rows)
            lines.append("")
        if isinstance(command, click.Group):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is not None and not sub.hidden:
                    walk(sub, sub_name, ctx)

    walk(main, "triops", None)
    return "\n".join(lines)


def _param_type(param: click.Parameter) -> str:
    if isinstance(param, click.Option) and param.is_flag:
        return "flag"
    if isinstance(param.type, click.Choice):
        return " or ".join(str(c) for c in param.type.choices)
    return param.type.name


# ------------------------------------------------------------------ configuration


def setting_names() -> set[str]:
    from core.config import Settings

    return {f"TRIOPS_{name.upper()}" for name in Settings.model_fields}


def unknown_settings(markdown: str) -> list[str]:
    """`TRIOPS_*` names a page uses that are no setting (stale or misspelt)."""
    return sorted(set(re.findall(r"\bTRIOPS_[A-Z0-9_]*[A-Z0-9]\b", markdown)) - setting_names())


def undocumented_settings(markdown: str) -> list[str]:
    from core.config import Settings

    named = set(re.findall(r"\bTRIOPS_[A-Z0-9_]+\b", markdown))
    return [
        f"TRIOPS_{name.upper()}"
        for name in Settings.model_fields
        if f"TRIOPS_{name.upper()}" not in named
    ]


# ------------------------------------------------------------------ MkDocs events

MARKERS = {
    "<!-- triops:http-api -->": render_http_api,
    "<!-- triops:cli -->": render_cli,
    "<!-- triops:job-kinds -->": render_job_kinds,
}


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(
        File.generated(
            config, OPENAPI_FILE, content=json.dumps(openapi_document(), indent=2) + "\n"
        )
    )
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    for marker, render in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, render())
    for name in unknown_settings(markdown):
        log.warning("%s: %s is not a setting of core.config.Settings", page.file.src_uri, name)
    if page.file.src_uri == CONFIGURATION_PAGE:
        for name in undocumented_settings(markdown):
            log.warning("%s: setting %s is not documented", CONFIGURATION_PAGE, name)
    return markdown
