"""The web app: a dashboard and a JSON API over `northstar.Project` (FastAPI, served by uvicorn).

`create_app(project_or_spec_path, token=None)` builds the app: the JSON API under `/api`
(`api.py`, results cached by `service.py`), the pages (`pages.py`, `templates/`, `static/`),
`/openapi.json` and a self-contained `/docs` (`docs.py`), one error shape (`errors.py`) and,
when a token is configured, a token on every request (`auth.py`). `northstar serve` runs it,
with `schedule=True`: the monitor's background thread (`northstar.alerts.schedule`) starts
with the server and stops when it shuts down.
Nothing the app serves loads anything from another origin.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

from fastapi import FastAPI

from northstar.alerts.schedule import Scheduler
from northstar.project import Project
from northstar.web.api import router as api_router
from northstar.web.api_annotations import router as annotations_router
from northstar.web.auth import TokenMiddleware, install_log_redaction, resolve_token
from northstar.web.docs import install_openapi, router as docs_router
from northstar.web.errors import install_error_handlers
from northstar.web.service import DashboardService

__all__ = ["create_app", "DashboardService"]


def create_app(project_or_spec_path: Project | str | Path, token: str | None = None,
               schedule: bool = False) -> FastAPI:
    """The dashboard app for a Project or a spec file.

    The token is `token`, else `NORTHSTAR_TOKEN`, else the spec's `web.token` (`${VAR}`
    expanded now; an unset variable raises SpecError). Raises SpecError for an invalid spec.
    `schedule`: run the alert monitor on its schedule while the app is served."""
    service = DashboardService(project_or_spec_path)
    scheduler = Scheduler(service) if schedule else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await asyncio.to_thread(scheduler.stop)

    secret = resolve_token(token, service.project().loaded)
    project = service.project()
    app = FastAPI(title=f"Northstar · {project.spec.project}", version=version("northstar-metric"),
                  description="The North Star, its tree, focus metrics, guardrails and checks, as JSON.",
                  docs_url=None, redoc_url=None, openapi_url="/openapi.json", lifespan=lifespan)
    app.state.service = service
    app.state.scheduler = scheduler
    app.state.auth_required = secret is not None
    install_error_handlers(app)
    install_openapi(app)
    app.include_router(api_router)
    app.include_router(annotations_router)
    app.include_router(docs_router)
    if find_spec("northstar.web.pages") is not None:  # engineer B's pages; until they exist, the API alone
        from northstar.web.pages import router as pages_router

        app.include_router(pages_router)
    if secret is not None:
        app.add_middleware(TokenMiddleware, token=secret)
    install_log_redaction(secret)
    return app
