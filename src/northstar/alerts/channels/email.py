"""E-mail over SMTP: STARTTLS when configured (implicit TLS on port 465), login when a username
is set, a multipart/alternative message with plain-text and HTML parts. The time-out caps the
whole exchange (`deadline`), so a server that trickles its replies cannot hold a send."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from northstar.alerts import render
from northstar.alerts.channels import ChannelError, option, resolve
from northstar.alerts.channels.deadline import Deadline
from northstar.alerts.model import AlertMessage


def build(message: AlertMessage, sender: str, to: list[str]) -> EmailMessage:
    subject, text, html = render.email(message)
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    mail["X-Northstar-Alert"] = message.key
    mail.set_content(text)
    mail.add_alternative(html, subtype="html")
    return mail


def _recipients(value: Any, secrets: list[str]) -> list[str]:
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",")]
    return [r for r in (resolve(str(v).strip(), secrets) for v in value or ()) if r]


def send(message: AlertMessage, channel: Any, timeout: float, secrets: list[str]) -> None:
    host = resolve(option(channel, "host", "localhost"), secrets)
    port = int(resolve(str(option(channel, "port", 587)), secrets))
    starttls = bool(option(channel, "starttls", True))
    username = resolve(option(channel, "username"), secrets)
    password = resolve(option(channel, "password"), secrets)
    if password:
        secrets.append(password)
    sender = resolve(option(channel, "sender"), secrets)
    to = _recipients(option(channel, "to"), secrets)
    if not sender:
        raise ChannelError(True, None, "e-mail channel has no sender")
    if not to:
        raise ChannelError(True, None, "e-mail channel has no recipients (to)")
    mail = build(message, sender, to)
    where = f"SMTP server {host}:{port}"
    with Deadline(timeout) as deadline:  # caps the whole exchange, however slowly the server talks
        try:
            _session(mail, host, port, starttls, username, password, sender, to, where, deadline)
        except ChannelError:
            raise
        except Exception as error:  # noqa: BLE001 - translated into what happened, in one line
            if deadline.expired:
                raise ChannelError(False, None, f"{where} timed out after {timeout:g}s") from None
            raise _failure(error, where, timeout) from None


class _Watched(smtplib.SMTP):
    """An SMTP client whose socket is registered with a `Deadline` as it is opened."""

    deadline: Deadline

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = super()._get_socket(host, port, timeout)
        self.deadline.watch(sock)
        return sock


class _WatchedSSL(smtplib.SMTP_SSL, _Watched):  # SMTP_SSL wraps the socket _Watched registered
    pass


def _session(mail: EmailMessage, host: str, port: int, starttls: bool, username: str | None,
             password: str | None, sender: str, to: list[str], where: str, deadline: Deadline) -> None:
    context = ssl.create_default_context()
    client: _Watched
    if port == 465:
        client = _WatchedSSL(timeout=deadline.remaining(), context=context)
    else:
        client = _Watched(timeout=deadline.remaining())
    client.deadline = deadline
    client._host = host  # what TLS checks the certificate against (set by the constructor's connect)
    with client:
        code, greeting = client.connect(host, port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, greeting)
        client.ehlo()
        if starttls and port != 465:
            if not client.has_extn("starttls"):
                raise ChannelError(True, None, f"{where} does not offer STARTTLS")
            client.starttls(context=context)
            client.ehlo()
        if username:
            client.login(username, password or "")
        refused = client.send_message(mail, from_addr=sender, to_addrs=to)
        if refused and len(refused) == len(to):
            raise ChannelError(True, None, f"{where} refused every recipient")


def _failure(error: BaseException, where: str, timeout: float) -> ChannelError:
    """The `ChannelError` for an SMTP exchange that failed before the deadline."""
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return ChannelError(True, error.smtp_code, f"{where} rejected the login (SMTP {error.smtp_code})")
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return ChannelError(True, None, f"{where} refused the recipients")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return ChannelError(True, None, f"{where}: {_first_line(error)}")
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        return ChannelError(500 <= code < 600, code, f"{where} answered {code}: {_first_line(error.smtp_error)}")
    if isinstance(error, smtplib.SMTPServerDisconnected):  # smtplib reports a read time-out this way too
        if "timed out" in str(error):
            return ChannelError(False, None, f"{where} timed out after {timeout:g}s")
        return ChannelError(False, None, f"{where} closed the connection")
    if isinstance(error, smtplib.SMTPException):
        if "AUTH" in str(error):  # "SMTP AUTH extension not supported by server."
            return ChannelError(True, None, f"{where} does not offer login (AUTH); is STARTTLS needed?")
        return ChannelError(False, None, f"{where}: {type(error).__name__}")
    if isinstance(error, ssl.SSLCertVerificationError):
        return ChannelError(True, None, f"{where}: TLS certificate not trusted")
    if isinstance(error, ssl.SSLError):
        return ChannelError(True, None, f"{where}: TLS failed ({error.reason or type(error).__name__})")
    if isinstance(error, (TimeoutError, socket.timeout)):
        return ChannelError(False, None, f"{where} timed out after {timeout:g}s")
    if isinstance(error, ConnectionRefusedError):
        return ChannelError(False, None, f"{where}: connection refused")
    if isinstance(error, socket.gaierror):
        return ChannelError(False, None, f"{where}: host name not found")
    return ChannelError(False, None, f"{where}: {type(error).__name__}")


def _first_line(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return (str(value).strip().splitlines() or [""])[0][:200]
