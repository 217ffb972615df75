"""The REST API's OpenAPI document and its plain HTML reference (``gaita.web.api``
registers both on the API it creates).

``openapi(api)`` is FastAPI's document with the error responses' media type
``application/problem+json``, served as ``/api/openapi.json``; ``docs_page(api,
request)`` renders ``/api/docs`` from it: the endpoints, their parameters, bodies and
responses, and the schemas, as one page with no script (so the site's CSP holds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.responses import HTMLResponse

# --- /api/openapi.json -----------------------------------------------------------------


def openapi(api: FastAPI) -> dict[str, Any]:
    """FastAPI's document, with the error responses' media type ``application/problem+json``."""
    if api.openapi_schema is None:
        schema = get_openapi(title=api.title, version=api.version, description=api.description,
                             routes=api.routes, tags=api.openapi_tags, servers=api.servers)
        for operation in _operations(schema):
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if int(status) >= 400 and "application/json" in content:
                    content["application/problem+json"] = content.pop("application/json")
        api.openapi_schema = schema
    return api.openapi_schema


def _operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in schema.get("paths", {}).values():
        yield from (op for method, op in item.items()
                    if method in ("get", "post", "put", "patch", "delete"))


# --- /api/docs: the endpoints as a plain page ------------------------------------------


def _code_spans(text: str) -> Markup:
    """Escaped text with its `code` spans as ``<code>``."""
    return Markup(re.sub(r"`([^`]+)`", r"<code>\1</code>", str(escape(text))))  # noqa: S704 - escaped


_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["code"] = _code_spans
_DOCS = _ENV.from_string("""\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{{ info.title }}, version {{ info.version }}</title>
<style>
  body { margin: 0 auto; max-width: 60rem; padding: 1.25rem; color: #1b1b1b;
         font: 1rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
  table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
  th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #b5b5b5;
           vertical-align: top; }
  th { background: #f2f4f7; }
  code, pre { font: .9rem/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
  pre { background: #f2f4f7; padding: .5rem; overflow-x: auto; }
  section.op { border-top: 2px solid #0b3d6b; margin-top: 1.5rem; }
  .method { font-weight: 700; }
  a { color: #0b4f8a; }
</style>
</head>
<body>
<main>
<h1>{{ info.title }}, version {{ info.version }}</h1>
{% for paragraph in info.description.split("\n\n") %}
<p>{{ paragraph | code }}</p>
{% endfor %}
<p>Machine-readable: <a href="{{ base }}/openapi.json">OpenAPI document</a>.</p>
<nav aria-labelledby="contents">
<h2 id="contents">Endpoints</h2>
<ul>
{% for op in ops %}
  <li><a href="#{{ op.id }}"><span class="method">{{ op.method }}</span> {{ op.path }}</a>
    — {{ op.summary }}</li>
{% endfor %}
</ul>
</nav>
{% for tag in tags %}
<h2>{{ tag.name }}</h2>
<p>{{ tag.description | code }}</p>
{% for op in ops if op.tag == tag.name %}
<section class="op" aria-labelledby="{{ op.id }}">
<h3 id="{{ op.id }}"><span class="method">{{ op.method }}</span> <code>{{ op.path }}</code>
  — {{ op.summary }}</h3>
<p>{{ op.description | code }}</p>
{% if op.parameters %}
<table>
<caption>Parameters</caption>
<thead><tr><th scope="col">Name</th><th scope="col">In</th><th scope="col">Type</th>
  <th scope="col">Required</th><th scope="col">Description</th></tr></thead>
<tbody>
{% for p in op.parameters %}
<tr><th scope="row"><code>{{ p.name }}</code></th><td>{{ p.in }}</td><td>{{ p.type }}</td>
  <td>{{ "yes" if p.required else "no" }}</td><td>{{ p.description | code }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% if op.body %}
<p>Request body: <a href="#schema-{{ op.body }}">{{ op.body }}</a> (JSON)</p>
{% if op.example %}<pre>{{ op.example }}</pre>{% endif %}
{% endif %}
<table>
<caption>Responses</caption>
<thead><tr><th scope="col">Status</th><th scope="col">Meaning</th>
  <th scope="col">Body</th></tr></thead>
<tbody>
{% for r in op.responses %}
<tr><th scope="row">{{ r.status }}</th><td>{{ r.description }}</td>
  <td>{% if r.schema %}<a href="#schema-{{ r.schema }}">{{ r.schema }}</a>
    ({{ r.media }}){% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
</section>
{% endfor %}
{% endfor %}
<h2>Schemas</h2>
{% for name, s in schemas %}
<section aria-labelledby="schema-{{ name }}">
<h3 id="schema-{{ name }}">{{ name }}</h3>
{% if s.description %}<p>{{ s.description | code }}</p>{% endif %}
{% if s.properties %}
<table>
<thead><tr><th scope="col">Member</th><th scope="col">Type</th><th scope="col">Required</th>
  <th scope="col">Description</th></tr></thead>
<tbody>
{% for p in s.properties %}
<tr><th scope="row"><code>{{ p.name }}</code></th><td>{{ p.type }}</td>
  <td>{{ "yes" if p.required else "no" }}</td><td>{{ p.description | code }}</td></tr>
{% endfor %}
</tbody>
</table>
{% elif s.enum %}
<p>One of: {{ s.enum | map("string") | join(", ") }}.</p>
{% endif %}
</section>
{% endfor %}
</main>
</body>
</html>
""")


def docs_page(api: FastAPI, request: Request) -> HTMLResponse:
    schema = api.openapi()
    base = str(request.scope.get("root_path", "")).rstrip("/")
    ops = []
    for path, item in schema["paths"].items():
        for method, op in item.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            body_schema = _ref_name(body.get("schema", {}))
            examples = (schema["components"]["schemas"].get(body_schema or "", {})
                        .get("examples") or [])
            ops.append({
                "id": op["operationId"], "method": method.upper(), "path": base + path,
                "summary": op.get("summary", ""), "description": op.get("description", ""),
                "tag": (op.get("tags") or [""])[0], "body": body_schema,
                "example": (json.dumps(examples[0], ensure_ascii=False, indent=2)
                            if examples else ""),
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": p.get("required", False),
                                "type": _type_of(p.get("schema", {})),
                                "description": p.get("description", "")}
                               for p in op.get("parameters", [])],
                "responses": [{"status": status, "description": r.get("description", ""),
                               **_body_of(r)} for status, r in op.get("responses", {}).items()],
            })
    schemas = [(name, {"description": s.get("description", ""), "enum": s.get("enum"),
                       "properties": [{"name": n, "type": _type_of(p),
                                       "required": n in s.get("required", ()),
                                       "description": p.get("description", "")}
                                      for n, p in s.get("properties", {}).items()]})
               for name, s in sorted(schema["components"]["schemas"].items())]
    html = _DOCS.render(info=schema["info"], base=base, tags=schema.get("tags", []), ops=ops,
                        schemas=schemas)
    return HTMLResponse(html)


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else None


def _body_of(response: dict[str, Any]) -> dict[str, str]:
    for media, content in response.get("content", {}).items():
        name = _ref_name(content.get("schema", {}))
        if name:
            return {"schema": name, "media": media}
    return {}


def _type_of(schema: dict[str, Any]) -> str:
    """A JSON schema as a short type, e.g. ``string | null``, ``array of CaseRow``."""
    if "$ref" in schema:
        return _ref_name(schema) or ""
    if "anyOf" in schema:
        return " | ".join(_type_of(s) for s in schema["anyOf"])
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type", "any")
    if kind == "array":
        return f"array of {_type_of(schema.get('items', {}))}"
    if schema.get("format"):
        return f"{kind} ({schema['format']})"
    return str(kind)
