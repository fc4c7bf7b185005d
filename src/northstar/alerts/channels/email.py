"""E-mail over SMTP: STARTTLS when configured (implicit TLS on port 465), login when a username
is set, a multipart/alternative message with plain-text and HTML parts."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from northstar.alerts import render
from northstar.alerts.channels import ChannelError, option, resolve
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
    context = ssl.create_default_context()
    where = f"SMTP server {host}:{port}"
    try:
        if port == 465:
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
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
    except ChannelError:
        raise
    except smtplib.SMTPAuthenticationError as error:
        raise ChannelError(True, error.smtp_code, f"{where} rejected the login (SMTP {error.smtp_code})") from None
    except smtplib.SMTPRecipientsRefused:
        raise ChannelError(True, None, f"{where} refused the recipients") from None
    except smtplib.SMTPNotSupportedError as error:
        raise ChannelError(True, None, f"{where}: {_first_line(error)}") from None
    except smtplib.SMTPResponseException as error:
        code = error.smtp_code
        permanent = 500 <= code < 600
        raise ChannelError(permanent, code, f"{where} answered {code}: {_first_line(error.smtp_error)}") from None
    except smtplib.SMTPServerDisconnected as error:  # smtplib reports a read time-out this way too
        if "timed out" in str(error):
            raise ChannelError(False, None, f"{where} timed out after {timeout:g}s") from None
        raise ChannelError(False, None, f"{where} closed the connection") from None
    except smtplib.SMTPException as error:
        if "AUTH" in str(error):  # "SMTP AUTH extension not supported by server."
            raise ChannelError(True, None, f"{where} does not offer login (AUTH); is STARTTLS needed?") from None
        raise ChannelError(False, None, f"{where}: {type(error).__name__}") from None
    except ssl.SSLCertVerificationError:
        raise ChannelError(True, None, f"{where}: TLS certificate not trusted") from None
    except ssl.SSLError as error:
        raise ChannelError(True, None, f"{where}: TLS failed ({error.reason or type(error).__name__})") from None
    except (TimeoutError, socket.timeout):
        raise ChannelError(False, None, f"{where} timed out after {timeout:g}s") from None
    except ConnectionRefusedError:
        raise ChannelError(False, None, f"{where}: connection refused") from None
    except socket.gaierror:
        raise ChannelError(False, None, f"{where}: host name not found") from None
    except OSError as error:
        raise ChannelError(False, None, f"{where}: {type(error).__name__}") from None


def _first_line(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return (str(value).strip().splitlines() or [""])[0][:200]
