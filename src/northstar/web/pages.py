"""The dashboard's HTML pages and their assets (engineer B's half of `northstar.web`).

`router` serves the pages `/`, `/tree`, `/explain`, `/metric/{name}`, `/funnel`, `/cohorts`, `/checks`,
`/focus` and `/alerts`, the package's own assets under `/static/` and plotly.js at `/static/plotly.min.js`
(from the plotly Python package: never a CDN). A page is a Jinja2 shell (`templates/`): its
texts in the negotiated language (`?lang=` or Accept-Language), its controls, and a script
(`static/`) that reads every number from the JSON API (`/api/...`) with `fetch` and draws it.
Filters live in the query string, so every view is a link. The header's segment filter
(`?where=country = 'DE'`) is kept in every navigation link and applies to the pages in
`SEGMENT_PAGES` (their scripts pass it to the API); the others say they show all customers. Nothing loads from another origin;
a Content-Security-Policy on every page makes the browser refuse it too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import threading
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from northstar.engine.cohorts import entity_metrics
from northstar.errors import NorthstarError
from northstar.i18n import LANGUAGES, catalogue, negotiate, t
from northstar.spec.model import GRAINS, Spec

async def _north_star_param(request: Request, north_star: str | None = None) -> None:
    from northstar.web.api import north_star_param

    await north_star_param(request, north_star)


router = APIRouter(include_in_schema=False)
_PAGE: dict[str, Any] = {"response_class": HTMLResponse, "dependencies": [Depends(_north_star_param)]}  # ?north_star=

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

# Every page may load only its own origin's scripts, styles, data and images.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self'; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'self'; "
       "form-action 'self'; frame-ancestors 'none'")
LONG_CACHE = "public, max-age=31536000, immutable"
LOCALES = {"en": "en-GB", "nl": "nl-NL", "sv": "sv-SE"}
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands", "sv": "Svenska"}

# (path, catalogue key of its name) in the navigation's order.
NAV = (("/", "overview"), ("/tree", "tree"), ("/explain", "explain"), ("/funnel", "funnel"), ("/cohorts", "cohorts"),
       ("/focus", "focus"), ("/checks", "checks"), ("/alerts", "alerts"))

# The pages that show a segment of the customers when the URL has ?where= (their API routes take it).
SEGMENT_PAGES = frozenset({"overview", "tree", "explain", "metric", "funnel"})

_env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(["html"]),
                   trim_blocks=True, lstrip_blocks=True)


@cache
def asset_version() -> str:
    """A hash of the package's own assets: their URLs carry it, so they can be cached for long."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@cache
def plotly_version() -> str:
    from importlib.metadata import version

    return version("plotly")


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>`, no HTML comment openers)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _language(request: Request) -> tuple[str, str | None]:
    """(language to use, the `?lang=` to keep in links, if one was asked for)."""
    asked = request.query_params.get("lang")
    lang = negotiate(asked, request.headers.get("accept-language"))
    return lang, (lang if asked in LANGUAGES else None)


def _href(path: str, keep_lang: str | None, **params: str) -> str:
    query = {k: v for k, v in params.items() if v}
    if keep_lang:
        query["lang"] = keep_lang
    return path + ("?" + urlencode(query) if query else "")


def _spec(request: Request) -> Spec | None:
    """The spec, or None when it cannot be loaded now (edited while serving and invalid): the page
    still renders, and its script shows the API's one-line error."""
    try:
        return request.app.state.service.project().spec  # type: ignore[no-any-return]
    except NorthstarError:
        return None


def _render(request: Request, template: str, page: str, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, rendered once per spec version, language and query (the memo's `page()`): a
    template costs about 5 ms of CPU, a memoized page a lookup."""
    lang, keep_lang = _language(request)
    key = (template, page, status, lang, keep_lang, request.url.path,
           tuple((k, v) for k, v in request.query_params.multi_items() if k != "token"), repr(sorted(context.items())))
    body = request.app.state.service.page(key, lambda: _page(request, template, page, lang, keep_lang, **context))
    if body is None:  # the spec cannot be loaded now: rendered without it, not kept
        body = _page(request, template, page, lang, keep_lang, allow_no_spec=True, **context)
    return HTMLResponse(body, status_code=status, headers={"Content-Security-Policy": CSP,
                                                           "Cache-Control": "no-cache",
                                                           "X-Content-Type-Options": "nosniff",
                                                           "Referrer-Policy": "same-origin",
                                                           "Content-Language": lang})


def _page(request: Request, template: str, page: str, lang: str, keep_lang: str | None,
          allow_no_spec: bool = False, **context: Any) -> bytes | None:
    """The page's HTML (None when the spec cannot be loaded, unless `allow_no_spec`)."""
    spec = _spec(request)
    if spec is None and not allow_no_spec:
        return None
    texts = {k: v for k, v in catalogue(lang).items() if k.startswith("pages.")}
    english = {k: v for k, v in catalogue("en").items() if k.startswith("pages.")}
    texts = {**english, **texts}

    def tr(key: str, **fields: Any) -> str:
        return t(key, lang, **fields)

    def static(name: str) -> str:
        return f"/static/{name}?v={asset_version()}"

    others = {k: v for k, v in request.query_params.multi_items() if k not in ("lang", "token")}
    languages = [{"code": code, "name": LANGUAGE_NAMES[code], "current": code == lang,
                  "href": request.url.path + "?" + urlencode([*others.items(), ("lang", code)])}
                 for code in LANGUAGES]
    north_star = request.query_params.get("north_star") or ""  # several North Stars: links stay on the one shown
    where = request.query_params.get("where", "").strip()
    nav = [{"href": _href(path, keep_lang, north_star=north_star, where=where), "label": tr(f"pages.nav.{key}"),
            "key": key,
            "current": key == page} for path, key in NAV]
    config = {"page": page, "lang": lang, "locale": LOCALES[lang], "keepLang": keep_lang, "i18n": texts,
              "segment": page in SEGMENT_PAGES, "canChange": bool(request.app.state.auth_required),
              "northStar": spec.north_star.metric if spec else None, "grain": spec.north_star.grain if spec else None,
              **({"northStarName": spec.north_star_name} if spec is not None and spec.north_stars else {}),
              "grains": list(GRAINS), **context.pop("config", {})}
    body = _env.get_template(template).render(
        t=tr, lang=lang, page=page, project=spec.project if spec else "Northstar", nav=nav, languages=languages, static=static,
        plotly_src=f"/static/plotly.min.js?v={plotly_version()}", config_json=_script_json(config),
        href=lambda path, **params: _href(path, keep_lang, **{"north_star": north_star, "where": where, **params}),
        grains=GRAINS, where=where, segment_applies=page in SEGMENT_PAGES, **context)
    return body.encode()


# ---- pages ------------------------------------------------------------------------------------

@router.get("/", **_PAGE)
def overview_page(request: Request) -> HTMLResponse:
    return _render(request, "overview.html", "overview")


@router.get("/tree", **_PAGE)
def tree_page(request: Request) -> HTMLResponse:
    return _render(request, "tree.html", "tree")


@router.get("/explain", **_PAGE)
def explain_page(request: Request) -> HTMLResponse:
    return _render(request, "explain.html", "explain")


@router.get("/metric/{name}", **_PAGE)
def metric_page(request: Request, name: str) -> HTMLResponse:
    spec = _spec(request)
    if spec is not None and name not in spec.metrics:
        return _render(request, "not_found.html", "metric", status=404, name=name)
    from northstar.analysis.progress import has_metric_targets

    # with metric targets, the page asks the tree for the metric's "% of target"
    targets = {"targets": True} if spec is not None and has_metric_targets(spec) else {}
    return _render(request, "metric.html", "metric", metric=name, config={"metric": name, **targets})


@router.get("/funnel", **_PAGE)
def funnel_page(request: Request) -> HTMLResponse:
    return _render(request, "funnel.html", "funnel")


@router.get("/cohorts", **_PAGE)
def cohorts_page(request: Request) -> HTMLResponse:
    spec = _spec(request)
    options = list(entity_metrics(spec)) if spec is not None else []
    return _render(request, "cohorts.html", "cohorts", config={"entityMetrics": options})


@router.get("/checks", **_PAGE)
def checks_page(request: Request) -> HTMLResponse:
    return _render(request, "checks.html", "checks")


@router.get("/focus", **_PAGE)
def focus_page(request: Request) -> HTMLResponse:
    return _render(request, "focus.html", "focus")


@router.get("/alerts", **_PAGE)
def alerts_page(request: Request) -> HTMLResponse:
    return _render(request, "alerts.html", "alerts")


# ---- assets -----------------------------------------------------------------------------------

_plotly_lock = threading.Lock()
_plotly: dict[str, bytes] = {}


def _plotly_bytes() -> dict[str, bytes]:
    """plotly.js from the plotly package, plain and gzipped (built once, on first use)."""
    with _plotly_lock:
        if not _plotly:
            from plotly.offline import get_plotlyjs

            plain = get_plotlyjs().encode("utf-8")
            _plotly["plain"] = plain
            _plotly["gzip"] = gzip.compress(plain, compresslevel=6, mtime=0)
    return _plotly


@router.get("/static/plotly.min.js")
def plotly_js(request: Request) -> Response:
    data = _plotly_bytes()
    headers = {"Cache-Control": LONG_CACHE, "Vary": "Accept-Encoding", "X-Content-Type-Options": "nosniff"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(data["gzip"], media_type="text/javascript; charset=utf-8", headers=headers)
    return Response(data["plain"], media_type="text/javascript; charset=utf-8", headers=headers)


@cache
def _static_files() -> dict[str, Path]:
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and not p.name.startswith(".")}


@router.get("/static/{name}")
def static_file(request: Request, name: str) -> Response:
    """The package's own CSS, JS and icons (a fixed list: no path from the request is opened)."""
    path = _static_files().get(name)
    if path is None:
        from northstar.web.errors import ApiError

        raise ApiError(404, "not_found", f"no static file '{name}'")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml", "application/json"):
        kind += "; charset=utf-8"
    fresh = request.query_params.get("v") == asset_version()
    headers = {"Cache-Control": LONG_CACHE if fresh else "no-cache", "X-Content-Type-Options": "nosniff"}
    return Response(path.read_bytes(), media_type=kind, headers=headers)
