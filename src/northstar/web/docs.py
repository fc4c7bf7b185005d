"""The API's documentation: `/openapi.json` with our error shape, and `/docs` rendered from it.

FastAPI's own `/docs` and `/redoc` load Swagger UI / ReDoc from a CDN, and no request may
leave the origin; so they are disabled and `/docs` is a self-contained HTML page rendered
here, on the server, from the same OpenAPI document: every path, its parameters with their
descriptions, the shape of its response and its errors. No script, no external asset.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

from northstar.i18n import negotiate, t
from northstar.web.schemas import ErrorResponse

router = APIRouter()
_REF = "#/components/schemas/"
_ERRORS = {"400": "api.docs.error_400", "401": "api.docs.error_401", "404": "api.docs.error_404",
           "500": "api.docs.error_500"}


def install_openapi(app: FastAPI) -> None:
    """Replace FastAPI's 422 responses by our error shape in the OpenAPI document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        error = ErrorResponse.model_json_schema(ref_template=_REF + "{model}")
        components.update(error.pop("$defs", {}))
        components["ErrorResponse"] = error
        ref = {"application/json": {"schema": {"$ref": _REF + "ErrorResponse"}}}
        for item in schema.get("paths", {}).values():
            for operation in item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                for status, key in _ERRORS.items():
                    if status == "400" and not operation.get("parameters"):
                        continue
                    responses.setdefault(status, {"description": t(key), "content": ref})
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _e(value: Any) -> str:
    return html.escape(str(value))


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    ref = schema.get("$ref", "")
    if ref.startswith(_REF):
        name = ref[len(_REF):]
        return name, components.get(name, {})
    return None, schema


def _type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    name, target = _resolve(schema, components)
    if name:
        return name
    if "anyOf" in target:
        kinds = [_type(s, components) for s in target["anyOf"]]
        return " | ".join(k for k in kinds if k != "null") + (" | null" if "null" in kinds else "")
    if target.get("type") == "array":
        return f"array of {_type(target.get('items', {}), components)}"
    if target.get("type") == "object" and "additionalProperties" in target:
        extra = target["additionalProperties"]
        return "object" if extra is True or not extra else f"object of {_type(extra, components)}"
    return str(target.get("type", "any"))


def _fields(schema: dict[str, Any], components: dict[str, Any], seen: tuple[str, ...] = ()) -> str:
    """A nested list of an object schema's fields: name, type, description."""
    name, target = _resolve(schema, components)
    if "anyOf" in target:
        inner = [s for s in target["anyOf"] if s.get("type") != "null"]
        return _fields(inner[0], components, seen) if len(inner) == 1 else ""
    if target.get("type") == "array":
        return _fields(target.get("items", {}), components, seen)
    if name and name in seen:
        return f'<ul><li><em>{_e(t("api.docs.recursive", name=name))}</em></li></ul>'
    properties = target.get("properties") or {}
    if not properties:
        return ""
    items = []
    for field, sub in properties.items():
        description = sub.get("description") or _resolve(sub, components)[1].get("description", "")
        items.append(f"<li><code>{_e(field)}</code> <span class=type>{_e(_type(sub, components))}</span>"
                     + (f" — {_e(description)}" if description else "")
                     + _fields(sub, components, seen + ((name,) if name else ())) + "</li>")
    return "<ul>" + "".join(items) + "</ul>"


def _parameters(operation: dict[str, Any], lang: str) -> str:
    rows = []
    for p in operation.get("parameters", []):
        schema = p.get("schema", {})
        kinds = [s.get("type", "any") for s in schema.get("anyOf", [schema])]
        kind = "/".join(k for k in kinds if k != "null")
        rows.append(f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(kind)}</td>"
                    f"<td>{_e(t('api.docs.yes', lang) if p.get('required') else t('api.docs.no', lang))}</td>"
                    f"<td>{_e(p.get('description', ''))}</td></tr>")
    if not rows:
        return f"<p class=muted>{_e(t('api.docs.no_parameters', lang))}</p>"
    head = "".join(f"<th>{_e(t(k, lang))}</th>" for k in ("api.docs.parameter", "api.docs.type",
                                                          "api.docs.required", "api.docs.description"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _response(operation: dict[str, Any], components: dict[str, Any], lang: str) -> str:
    ok = operation.get("responses", {}).get("200", {})
    content = ok.get("content", {})
    parts = []
    for media, body in content.items():
        schema = body.get("schema")
        shape = (f" <span class=type>{_e(_type(schema, components))}</span>" + _fields(schema, components)) \
            if schema else (f" — {_e(ok.get('description', ''))}" if ok.get("description") else "")
        parts.append(f"<p><b>200</b> <code>{_e(media)}</code>{shape}</p>")
    errors = ", ".join(s for s in operation.get("responses", {}) if s != "200")
    return "".join(parts) + (f"<p class=muted>{_e(t('api.docs.errors', lang))}: {_e(errors)}</p>" if errors else "")


def render_docs(spec: dict[str, Any], lang: str) -> str:
    """The whole page: every path of the OpenAPI document, then the error shape."""
    components = spec.get("components", {}).get("schemas", {})
    sections, index = [], []
    for path, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            anchor = re.sub(r"[^a-z0-9]+", "-", f"{method} {path}".lower()).strip("-")  # get-api-series-csv
            index.append(f'<li><a href="#{_e(anchor)}"><code>{_e(method.upper())} {_e(path)}</code></a> '
                         f"{_e(operation.get('summary', ''))}</li>")
            sections.append(f'<section id="{_e(anchor)}"><h2><code>{_e(method.upper())} {_e(path)}</code></h2>'
                            f"<p>{_e(operation.get('summary', ''))}. {_e(operation.get('description', ''))}</p>"
                            f"<h3>{_e(t('api.docs.parameters', lang))}</h3>{_parameters(operation, lang)}"
                            f"<h3>{_e(t('api.docs.response', lang))}</h3>{_response(operation, components, lang)}"
                            "</section>")
    error = _fields({"$ref": _REF + "ErrorResponse"}, components)
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;"
             "line-height:1.45}code{background:#f2f2f5;padding:0 .25rem;border-radius:3px}table{border-collapse:"
             "collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;"
             "vertical-align:top}section{border-top:2px solid #eee;margin-top:1.5rem}.type{color:#6a3ea1}"
             ".muted{color:#666}ul ul{margin:.1rem 0}")
    title = f"{spec.get('info', {}).get('title', 'Northstar')} — {t('api.docs.title', lang)}"
    return (f'<!doctype html><html lang="{_e(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{_e(title)}</title>'
            f"<style>{style}</style></head><body><h1>{_e(title)}</h1>"
            f"<p>{_e(t('api.docs.intro', lang))} <a href=\"openapi.json\"><code>/openapi.json</code></a>.</p>"
            f"<p>{_e(t('api.docs.auth', lang))}</p><h3>{_e(t('api.docs.error_shape', lang))}</h3>{error}"
            f"<h3>{_e(t('api.docs.routes', lang))}</h3><ul>{''.join(index)}</ul>{''.join(sections)}</body></html>")


@router.get("/docs", include_in_schema=False)
def docs(request: Request, lang: str | None = None) -> HTMLResponse:
    """The API documentation page (self-contained)."""
    chosen = negotiate(lang, request.headers.get("accept-language"))
    return HTMLResponse(render_docs(request.app.openapi(), chosen))
