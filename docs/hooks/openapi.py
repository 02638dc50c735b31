"""MkDocs hook: the REST reference rendered from the application's own OpenAPI document.

The document is built in this process from `project.api` (no server, no database), rendered
as Markdown into the page that holds the marker below, and added to the built site as
`reference/openapi.json`. Nothing is written into the source tree, so a build changes no
tracked file and the page can never drift from the code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

MARKER = "<!-- openapi-operations -->"
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = "reference/openapi.json"

_document: dict[str, Any] | None = None


def openapi_document() -> dict[str, Any]:
    """The document `/api/openapi.json` serves, built once per build."""
    global _document
    if _document is None:
        # The document is the same under every settings module; the local one needs no
        # secrets and no running service, so a docs build works on any checkout.
        os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings.local"
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django

        django.setup()
        from project.api import api

        _document = api.get_openapi_schema()  # paths as the URLconf mounts them, as served
    return _document


def _cell(text: Any) -> str:
    """Text fit for one Markdown table cell: one line, pipes escaped outside code spans (the
    table extension leaves a code span whole, and would show the backslash there)."""
    if text in (None, ""):
        return ""
    parts = " ".join(str(text).split()).split("`")
    return "`".join(part if index % 2 else part.replace("|", "\\|") for index, part in enumerate(parts))


def _anchor(name: str) -> str:
    return "schema-" + name.lower()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if not ref:
        return schema
    return document["components"]["schemas"][ref.rsplit("/", 1)[1]]


def type_of(schema: dict[str, Any]) -> str:
    """A short, linked description of a schema's type: `integer`, `string (date)`,
    `array of CalculationRowOut`, `"queued" | "running"`, `… or null`."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        return f"[{name}](#{_anchor(name)})"
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return " or ".join(type_of(option) for option in schema[combinator])
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_of(schema["allOf"][0])
    if "enum" in schema:
        return " | ".join(f"`{json.dumps(value)}`" for value in schema["enum"])
    if "const" in schema:
        return f"`{json.dumps(schema['const'])}`"
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return kind


def rules_of(schema: dict[str, Any]) -> str:
    """The constraints a value must meet, as the document states them."""
    rules = []
    for key, label in (
        ("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
        ("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"), ("maxItems", "items ≤"),
    ):  # fmt: skip
        if key in schema:
            rules.append(f"{label} {schema[key]}")
    if "pattern" in schema:
        rules.append(f"pattern `{schema['pattern']}`")
    if "default" in schema:
        rules.append(f"default `{json.dumps(schema['default'])}`")
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            inner = rules_of(option)
            if inner:
                rules.append(inner)
    return ", ".join(rules)


def render_operation(
    document: dict[str, Any], path: str, method: str, operation: dict[str, Any]
) -> list[str]:
    lines = [f"### `{method.upper()} {path}`", ""]
    if operation.get("summary"):
        lines += [f"**{operation['summary']}** · operation id `{operation['operationId']}`", ""]
    if operation.get("description"):
        lines += [operation["description"].strip(), ""]
    parameters = operation.get("parameters", [])
    if parameters:
        lines += ["| parameter | in | type | required | rules | description |", "|---|---|---|---|---|---|"]
        for parameter in parameters:
            schema = parameter.get("schema", {})
            lines.append(
                f"| `{parameter['name']}` | {parameter['in']} | {_cell(type_of(schema))} | "
                f"{'yes' if parameter.get('required') else 'no'} | {_cell(rules_of(schema))} | "
                f"{_cell(parameter.get('description') or schema.get('description'))} |"
            )
        lines.append("")
    body = operation.get("requestBody")
    if body:
        for content_type, content in body.get("content", {}).items():
            lines += [f"Request body (`{content_type}`): {type_of(content.get('schema', {}))}", ""]
    lines += ["| status | meaning | body |", "|---|---|---|"]
    for status, response in sorted(operation.get("responses", {}).items(), key=lambda item: str(item[0])):
        bodies = [
            f"`{content_type}`" + (f": {type_of(content['schema'])}" if content.get("schema") else "")
            for content_type, content in response.get("content", {}).items()
        ]
        lines.append(f"| {status} | {_cell(response.get('description'))} | {_cell(', '.join(bodies))} |")
    lines.append("")
    return lines


def render_schema(document: dict[str, Any], name: str, schema: dict[str, Any]) -> list[str]:
    lines = [f"### {name} {{#{_anchor(name)}}}", ""]
    if schema.get("description"):
        lines += [schema["description"].strip(), ""]
    properties = schema.get("properties", {})
    if not properties:
        lines += [f"Type: {type_of(schema)}", ""]
        return lines
    required = set(schema.get("required", []))
    lines += ["| field | type | required | rules | description |", "|---|---|---|---|---|"]
    for field, prop in properties.items():
        lines.append(
            f"| `{field}` | {_cell(type_of(prop))} | {'yes' if field in required else 'no'} | "
            f"{_cell(rules_of(prop))} | {_cell(prop.get('description'))} |"
        )
    lines.append("")
    return lines


def render(document: dict[str, Any]) -> str:
    """The whole reference: operations grouped by tag, then every schema they use."""
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            tag = (operation.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).extend(render_operation(document, path, method, operation))
    lines: list[str] = []
    for tag, operation_lines in by_tag.items():
        lines += [f"## {tag.capitalize()}", "", *operation_lines]
    lines += ["## Schemas", ""]
    for name, schema in sorted(document["components"]["schemas"].items()):
        lines += render_schema(document, name, schema)
    return "\n".join(lines)


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    if MARKER not in markdown:
        return markdown
    document = openapi_document()
    info = document.get("info", {})
    heading = f"Generated from the application: {info.get('title', 'API')} {info.get('version', '')}".strip()
    return markdown.replace(MARKER, f"*{heading}, OpenAPI {document['openapi']}.*\n\n{render(document)}")


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """The document itself, as a file of the built site (pages link to it)."""
    files.append(File.generated(config, OUTPUT, content=json.dumps(openapi_document(), indent=2) + "\n"))
    return files
