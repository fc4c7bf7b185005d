"""Real receivers on 127.0.0.1 for the alert delivery tests (no mocks): an HTTP server that
records every request (its time, its `X-Northstar-Delivery` key, its body) and answers after a
delay, holds requests until released, or answers from a function; and raw socket servers that
trickle their answer one byte at a time (HTTP and SMTP), as a slow or hostile receiver does."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records each POST; answers `answer(request) -> (status, body)` after `delay` seconds, or,
    while `holding` is set, only once `release()` is called (or after `hold_max` seconds)."""

    def __init__(self, delay: float = 0.0, answer: Callable[[dict[str, Any]], tuple[int, bytes]] | None = None,
                 hold_max: float = 120.0) -> None:
        self.delay = delay
        self.answer = answer or (lambda request: (200, b"ok"))
        self.requests: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []  # requests that got their answer (the sender saw it)
        self.holding = threading.Event()
        self._released = threading.Event()
        self.hold_max = hold_max
        self.release_at = 0  # release the held requests when this many have arrived (0: never)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = {"at": time.monotonic(), "path": self.path, "headers": dict(self.headers), "body": body,
                           "key": self.headers.get("X-Northstar-Delivery")}
                with receiver.lock:
                    receiver.requests.append(request)
                    if receiver.release_at and len(receiver.requests) >= receiver.release_at:
                        receiver.release()
                if receiver.holding.is_set():
                    receiver._released.wait(receiver.hold_max)
                elif receiver.delay:
                    time.sleep(receiver.delay)
                status, answer = receiver.answer(request)
                request["status"] = status
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(answer)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(answer)
                    self.wfile.flush()
                except OSError:  # the sender gave up (its time-out) or was killed
                    return
                with receiver.lock:
                    receiver.answered.append(request)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hold(self) -> None:
        self._released.clear()
        self.holding.set()

    def release(self) -> None:
        self.holding.clear()
        self._released.set()

    def keys(self) -> Counter[str]:
        """How many times each message key was POSTed."""
        with self.lock:
            return Counter(r["key"] for r in self.requests)

    def wait_for(self, count: int, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the receiver got {len(self.requests)} request(s), not {count}")
            time.sleep(0.02)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class Trickler:
    """A TCP server that reads what the client sends, writes `head` at once, then `answer` one
    byte every `every` seconds: each read the client makes gets a byte in time, the whole answer
    does not."""

    def __init__(self, answer: bytes, every: float, wait_for_request: bool = True, head: bytes = b"") -> None:
        self.answer, self.every, self.wait_for_request, self.head = answer, every, wait_for_request, head
        self.connections = 0
        self.stopped = threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.wait_for_request:
                    conn.settimeout(5)
                    conn.recv(65536)
                conn.sendall(self.head)
                for byte in self.answer:
                    if self.stopped.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:  # the client cut the connection: what a deadline does
                return

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()
