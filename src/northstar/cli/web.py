"""`northstar serve`: the dashboard and its JSON API on uvicorn (also used by `demo --serve`), and the
alert monitor on its schedule (`alerts.every`, the digest's weekday and time) in a background thread."""

from __future__ import annotations

import errno
import secrets
import socket
import threading
import time
from pathlib import Path
from urllib.parse import quote

import click

from northstar.cli.app import State, cli, stderr
from northstar.errors import QueryError

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_port(host: str, port: int) -> None:
    """A clear one-line error, before uvicorn starts, when the address is taken or invalid."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise QueryError(f"--port: {host}:{port} is already in use; pass another --port") from None
            raise QueryError(f"--host: cannot listen on {host}:{port} ({exc.strerror or exc})") from None


def _warm(server: object, service: object) -> None:
    """Once the server listens, compute the overview in the background: the first visit is fast."""
    while not getattr(server, "started", False) and not getattr(server, "should_exit", False):
        time.sleep(0.05)
    try:
        service.overview()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - best effort: the request that asks for it gets the error in the error shape
        pass


def run_server(spec_path: str | Path, host: str | None = None, port: int | None = None,
               token: str | None = None, north_star: str | None = None) -> None:
    """Serve the dashboard of a spec until interrupted. `token == ""`: generate a random one."""
    import uvicorn

    from northstar.project import Project
    from northstar.web import create_app
    from northstar.web.auth import install_log_redaction

    project = Project.load(spec_path)
    project.for_north_star(north_star)  # an unknown --north-star: one line before anything starts
    host = host or project.spec.web.host
    port = port or project.spec.web.port
    generated = token == ""
    if generated:
        token = secrets.token_urlsafe(24)
    app = create_app(project, token=token or None, schedule=True)
    _check_port(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    page = url + (f"?north_star={quote(north_star)}" if north_star else "")  # the pages take ?north_star=
    if host not in LOOPBACK and not app.state.auth_required:
        stderr.print(f"warning: serving on {host} without a token: anyone who can reach this machine can read the "
                     "dashboard; set NORTHSTAR_TOKEN or web.token", style="yellow", markup=False, highlight=False)
    config = uvicorn.Config(app, host=host, port=port, log_level="info", server_header=False)
    server = uvicorn.Server(config)
    install_log_redaction()  # after uvicorn configured its loggers
    stderr.print(f"Northstar dashboard of {project.spec.project}: {page}  (API: {url}api/overview, docs: {url}docs; "
                 "Ctrl+C stops)", markup=False, highlight=False)
    if generated:  # shown once, on the terminal only: the user needs it to get in
        stderr.print(f"token required; open {url}?token={token}", markup=False, highlight=False)
    elif app.state.auth_required:
        stderr.print("token required (from --token, NORTHSTAR_TOKEN or web.token): open the page with ?token=...",
                     markup=False, highlight=False)
    service = app.state.service
    service.encoded("metrics")
    threading.Thread(target=_warm, args=(server, service), name="northstar-warm", daemon=True).start()
    server.run()


@cli.command()
@click.option("--host", default=None, help="Address to listen on (default: web.host in the spec, else 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="Port (default: web.port in the spec, else 8000).")
@click.option("--token", is_flag=False, flag_value="", default=None, metavar="[TOKEN]",
              help="Require a token: the one given, or with no value a random one (printed once). "
                   "Default: NORTHSTAR_TOKEN, else web.token, else none.")
@click.pass_obj
def serve(state: State, host: str | None, port: int | None, token: str | None) -> None:
    """Serve the dashboard and its JSON API (binds to 127.0.0.1 unless told otherwise)."""
    run_server(state.spec_path, host, port, token, state.north_star)
