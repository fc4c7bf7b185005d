"""A whole-exchange deadline for one attempt to send.

A socket time-out bounds each read, not the exchange: a receiver that trickles its answer (one
byte every 5 s against a 10 s time-out) keeps every read alive and holds the send forever. A
`Deadline` caps the whole attempt instead: a timer shuts the attempt's socket down when the
time is up, which ends the blocked read at once (an EOF or an error in the reading thread), and
`expired` then tells the caller to report a time-out rather than whatever the library made of
the cut. The same works for HTTP (urllib) and SMTP (smtplib), whose sockets are registered as
they are opened. (Name resolution happens before there is a socket: it is not covered.)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType


class Deadline:
    """`with Deadline(seconds) as deadline:` ... `deadline.watch(sock)` for each socket opened."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.expired = False
        self._closers: list[Callable[[], None]] = []
        self._copies: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def remaining(self) -> float:
        """Seconds left (never 0: a socket time-out of 0 would make it non-blocking)."""
        return max(0.01, self.expires - time.monotonic())

    def watch(self, sock: socket.socket | None) -> None:
        """Shut `sock`'s connection down when the deadline passes (at once when it already has).

        Through a duplicate of its descriptor: TLS wrapping detaches the original socket object
        (its descriptor moves to the TLS socket), while a shutdown through any descriptor of the
        connection ends it for all, the TLS handshake and reads through `makefile` included."""
        if sock is None:
            return
        try:
            copy = sock.dup()
        except OSError:
            return
        self._copies.append(copy)
        self.on_expiry(lambda: _shut(copy))

    def on_expiry(self, closer: Callable[[], None]) -> None:
        with self._lock:
            if not self.expired:
                self._closers.append(closer)
                return
        closer()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            closers, self._closers = self._closers, []
        for closer in closers:
            closer()

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(self.remaining(), self._expire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for copy in self._copies:
            copy.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed, or never connected
        pass
