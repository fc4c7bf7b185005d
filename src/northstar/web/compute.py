"""How a route gets its answer without stalling the server: memoized bytes on the event loop,
computations in a few threads.

Every route used to be a plain function run in the thread pool (40 threads), each waiting for
the one engine: 40 slow requests and no thread was left to send a memoized answer. Now a route
is a coroutine that asks the service for memoized bytes first (a dictionary lookup and a few
`stat`s: no thread, no lock), and only a computation goes to a thread, through a gate as wide
as twice the engines: the requests behind it wait on the event loop, holding no thread. A
request that waits longer than `engines.WAIT_SECONDS` for an engine is a 503 `busy`.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response

from northstar.spec.model import Spec

T = TypeVar("T")

# One gate per event loop (a test client may run several loops, one after the other).
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _gate(request: Request) -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(2 * request.app.state.service.engines)
    return gate


async def run(request: Request, function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """`function(*args, **kwargs)` in a worker thread, once the gate lets this request through."""
    async with _gate(request):
        return await anyio.to_thread.run_sync(functools.partial(function, *args, **kwargs))


async def current_spec(request: Request) -> Spec:
    """The spec requests are checked against; a reload (the spec or data changed) runs in a thread."""
    service = request.app.state.service
    project = service.fresh_project()
    if project is None:
        project = await run(request, service.project)
    return project.spec  # type: ignore[no-any-return]


async def answer(request: Request, method: str, /, **kwargs: Any) -> Response:
    """The JSON of `service.encoded(method, **kwargs)`: memoized bytes at once, else computed."""
    service = request.app.state.service
    body = service.cached(method, **kwargs)
    if body is None:
        body = await run(request, service.encoded, method, **kwargs)
    return Response(content=body, media_type="application/json")
