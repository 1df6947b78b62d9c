"""The built-in channels: ``email`` (SMTP) and ``webhook`` (a JSON POST signed as webhooks are).

Both read their settings from the campaigns configuration (``email``, ``webhook``) when a
batch is sent, and their secrets from the environment variables it names, never from the
configuration itself.

``email`` sends each message over one of ``email.connections`` SMTP connections in parallel
(stdlib :mod:`smtplib`; STARTTLS when ``email.starttls``; AUTH with ``email.username`` and the
password in ``$email.password_env``), with its ``Message-ID`` and, for a message to a customer
when the core config ``public_url`` is set, ``List-Unsubscribe`` (the one-click link) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058).  Replies are mapped to
outcomes: accepted → sent; 4xx → retry; a recipient refused with 5xx → bounced; another 5xx
→ failed; a connection refused or lost → retry (saying which server).  Sending one message,
with connecting first when its connection is not open yet, is done within
``email.timeout_seconds``, however slowly the server answers (:class:`_BoundedSMTP`); past
it, the message is retried and the connection's other messages too.  EHLO gives
``email.local_hostname``, or this machine's host name (:func:`socket.gethostname`; never a
DNS lookup).  Each result is yielded
as soon as the server has answered, so the worker records it at once.  Neither channel
starts a message the worker has stopped waiting for (``Sending.expired``: its lease ran out).
"""

from __future__ import annotations

import io
import json
import os
import queue
import smtplib
import socket
import ssl
import threading
import uuid
from email import charset as charsets
from email import policy as policies
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime
from typing import Any, Iterator

import crmkit
from crmkit.plugin import (ConfigError, Deadline, SendResult, jsonable, masked_url,
                           resolve_host, webhook_headers)

from .settings import Email, Webhook, settings_of

PLUGIN_NAME = "campaigns"
MESSAGE_ID_HEADER = "X-Crmkit-Message-Id"
EVENT_TYPE = "message"
EXPIRED = "not started: the worker stopped waiting for it (messages.lease_seconds)"
"""The result of a message a channel does not start because it has expired."""
"""The ``X-Crmkit-Event`` of every webhook message."""
RESERVED = frozenset({"from", "to", "subject", "message-id", "date"})
"""Headers the email channel sets itself (a message's own headers may not replace them)."""

UTF8 = charsets.Charset("utf-8")
UTF8.body_encoding = charsets.QP  # readable text in the raw email, not base64


class _Unfolded(policies.Compat32):
    """compat32 that folds a header only past RFC 5322's line limit (a long List-Unsubscribe
    stays on one line), and writes a header that fits on its line in ASCII as it is, which
    is what compat32 writes for it too, without building an ``email.header.Header`` for it:
    that was most of the time of writing an email."""

    def _fits(self, name: str, value: Any) -> bool:
        return (isinstance(value, str) and value.isascii() and "\n" not in value
                and "\r" not in value and len(name) + 2 + len(value) <= self.max_line_length)

    def fold(self, name, value):
        if self._fits(name, value):
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name, value):
        if self._fits(name, value):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


UNFOLDED = _Unfolded(max_line_length=998)
"""The policy of the emails written (see :class:`_Unfolded`)."""


def _secret(variable: str | None, setting: str) -> str | None:
    """The value of the environment variable ``variable`` (None when no variable is named)."""
    if not variable:
        return None
    value = os.environ.get(variable)
    if not value:
        raise ConfigError(f"campaigns config {setting} names the environment variable "
                          f"{variable}, which is not set in the worker's environment")
    return value


def _required(settings: Email | Webhook, key: str, section: str, example: str) -> Any:
    value = getattr(settings, key)
    if not value:
        raise ConfigError(f"campaigns config {section}.{key} is not set: crmkit plugins "
                          f"config campaigns --set {section}.{key}={example}")
    return value


# -- email --------------------------------------------------------------------------------------


class EmailChannel:
    """The ``email`` channel: SMTP with STARTTLS and AUTH, several connections at once."""

    name = "email"

    def __init__(self, crm):
        self.crm = crm

    def send(self, batch) -> Iterator[SendResult]:
        settings = settings_of(self.crm.plugin_config(PLUGIN_NAME)).email
        _required(settings, "host", "email", "smtp.example.com")
        _required(settings, "sender", "email", "news@example.com")
        password = _secret(settings.password_env, "email.password_env")
        if settings.username and password is None:
            raise ConfigError("campaigns config email.username is set but email.password_env "
                              "is not: name the environment variable holding the password")
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for message in batch:
            todo.put(message)
        results: queue.SimpleQueue = queue.SimpleQueue()
        count = max(1, min(settings.connections, len(batch)))
        threads = [threading.Thread(target=self._connection, daemon=True,
                                    args=(settings, password, todo, results),
                                    name=f"crmkit-smtp-{n}") for n in range(count)]
        for thread in threads:
            thread.start()
        for _ in batch:
            result = results.get()
            if isinstance(result, BaseException):
                raise result
            yield result

    def _connection(self, settings: Email, password: str | None,
                    todo: queue.SimpleQueue, results: queue.SimpleQueue) -> None:
        """One SMTP connection: send messages from ``todo`` until it is empty; after a
        connection failure, or once the worker has stopped waiting (:meth:`Sending.expired`),
        report every message left as a retry."""
        where = f"SMTP server {settings.host}:{settings.port}"
        deadline = Deadline()
        smtp = None
        broken = None
        try:
            while True:
                try:
                    message = todo.get_nowait()
                except queue.Empty:
                    return
                if broken is not None:
                    results.put(SendResult(message.message_id, "retry", broken))
                    continue
                if message.expired():  # recorded as a retry: sent again by a later round
                    results.put(SendResult(message.message_id, "retry", EXPIRED))
                    continue
                deadline.start(settings.timeout_seconds)
                try:
                    if smtp is None:
                        smtp = self._connect(settings, password, deadline)
                    results.put(self._send_one(smtp, settings, message))
                except (OSError, smtplib.SMTPException) as exc:
                    outcome, detail, lasts = _failure(exc, where, deadline, settings)
                    results.put(SendResult(message.message_id, outcome, detail))
                    broken = detail if lasts else None
                    smtp = _close(smtp)
        except Exception as exc:  # a bug: raised by send() in the worker's thread
            results.put(exc)
        finally:
            deadline.start(settings.timeout_seconds)
            _close(smtp, polite=True)

    def _connect(self, settings: Email, password: str | None,
                 deadline: Deadline) -> smtplib.SMTP:
        smtp = _BoundedSMTP(settings.host, settings.port, settings.timeout_seconds, deadline,
                            settings.local_hostname or socket.gethostname())
        try:
            smtp.ehlo()
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.username:
                smtp.login(settings.username, password)
        except BaseException:
            _close(smtp)
            raise
        return smtp

    def _send_one(self, smtp: smtplib.SMTP, settings: Email, message) -> SendResult:
        """Send one message on an open connection; a refused recipient is its result, other
        SMTP errors are raised to the connection loop."""
        try:
            mail = self.compose(settings.sender, message)
        except (ValueError, TypeError) as exc:
            return SendResult(message.message_id, "failed", f"cannot be written as an email: "
                                                            f"{exc}")
        try:
            smtp.send_message(mail, from_addr=settings.sender, to_addrs=[message.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            detail = f"recipient {message.recipient} refused: {code} {_text(reply)}"
            return SendResult(message.message_id, "bounced" if code >= 500 else "retry", detail)
        except smtplib.SMTPDataError as exc:
            detail = f"message refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            return SendResult(message.message_id, "failed" if exc.smtp_code >= 500 else "retry",
                              detail)
        return SendResult(message.message_id, "sent",
                          f"accepted by {settings.host}:{settings.port}")

    def compose(self, sender: str, message) -> Message:
        """The email of one :class:`crmkit.plugin.Sending`: its own headers, then From, To,
        Subject, Date, Message-ID and the unsubscribe headers; text, or text and HTML as
        multipart/alternative.  (The email package's compat32 classes: several times faster
        to build and write than ``EmailMessage``, which matters at hundreds a second.)"""
        text = _part(message.body, "plain")
        if message.html is None:
            mail = text
        else:
            mail = MIMEMultipart("alternative", policy=UNFOLDED)
            mail.attach(text)
            mail.attach(_part(message.html, "html"))
        for name, value in message.headers.items():
            if name.lower() not in RESERVED:
                mail[name] = _header(value)
        mail["From"] = sender
        mail["To"] = message.recipient
        mail["Subject"] = _header(message.subject or "")
        mail["Date"] = format_datetime(self.crm.clock.now())
        mail["Message-ID"] = message.message_id
        if (message.customer is not None and "List-Unsubscribe" not in mail
                and self.crm.core_config.get("public_url")):
            mail["List-Unsubscribe"] = f"<{self.crm.messages.unsubscribe_url(message.message_id)}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return mail


class _BoundedSMTP(smtplib.SMTP):
    """:class:`smtplib.SMTP` whose every network wait (resolving the server's name,
    connecting, each read and write, the TLS handshake of STARTTLS) ends by ``deadline``:
    a server that trickles its replies cannot hold a delivery past it.  It says EHLO as
    ``local_hostname``, given, so smtplib never looks this machine's name up in DNS
    (:func:`socket.getfqdn`, which no deadline bounds)."""

    def __init__(self, host: str, port: int, timeout: float, deadline: Deadline,
                 local_hostname: str):
        self.deadline = deadline
        super().__init__(host, port, local_hostname, timeout=timeout)

    def _wait(self) -> float:
        return self.deadline.left(None, TimeoutError)

    def _get_socket(self, host, port, timeout):
        *others, last = resolve_host(host, port, self._wait())
        for address in others:
            try:
                return socket.create_connection((address, port), self._wait(),
                                                self.source_address)
            except OSError:
                continue
        return socket.create_connection((last, port), self._wait(), self.source_address)

    def send(self, s) -> None:
        if self.sock is not None:  # what is left of the deadline bounds the whole write
            self.sock.settimeout(self._wait())
        super().send(s)

    def getreply(self):
        if self.file is None and self.sock is not None:  # (again after STARTTLS)
            self.file = io.BufferedReader(_BoundedReader(self.sock, self._wait))
        return super().getreply()


class _BoundedReader(io.RawIOBase):
    """A socket's reads, each waiting at most ``wait()`` seconds (a TLS handshake that
    follows waits at most as long as the last read could)."""

    def __init__(self, sock: socket.socket, wait):
        self._sock, self._wait = sock, wait

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self._sock.settimeout(self._wait())
        return self._sock.recv_into(buffer)


def _failure(exc: Exception, where: str, deadline: Deadline,
             settings: Email) -> tuple[str, str, bool]:
    """``(outcome, detail, lasts)`` of a message whose delivery raised ``exc``; ``lasts``:
    the connection's other messages are retried with this detail, not sent."""
    if isinstance(exc, smtplib.SMTPResponseException):  # the server answered in time
        detail = f"{where} answered {exc.smtp_code} {_text(exc.smtp_error)}"
        if exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError):
            return "failed", detail, False
        return "retry", detail, True
    if deadline.remaining() <= 0:
        return ("retry", f"no complete answer from {where} within "
                         f"{settings.timeout_seconds:g} s (email.timeout_seconds)", True)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "retry", f"{where} closed the connection: {exc}", False
    return "retry", f"cannot reach {where}: {exc}", True


def _part(content: str, subtype: str) -> MIMEText:
    return MIMEText(content, subtype, "us-ascii" if content.isascii() else UTF8,
                    policy=UNFOLDED)


def _header(value: str) -> str | Header:
    """ASCII text as it is; other text RFC 2047-encoded."""
    return value if value.isascii() else Header(value, "utf-8")


def _text(reply: bytes | str) -> str:
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
            ).replace("\n", " ")


def _close(smtp: smtplib.SMTP | None, polite: bool = False) -> None:
    """Close ``smtp`` (with QUIT when ``polite``); always returns None."""
    if smtp is None:
        return None
    try:
        if polite:
            smtp.quit()
        else:
            smtp.close()
    except (OSError, smtplib.SMTPException):
        smtp.close()
    return None


# -- webhook ------------------------------------------------------------------------------------


class WebhookChannel:
    """The ``webhook`` channel: each message a JSON POST to ``webhook.url``, sent as the
    core's webhooks are: with their signed headers (event type :data:`EVENT_TYPE`, delivery
    id :func:`delivery_id`), within core config ``webhooks.timeout_seconds``, only to an
    address ``webhooks.allowed_networks`` allows (public ones always); and with
    ``X-Crmkit-Message-Id``.
    2xx → sent; 408, 429, 5xx or no answer → retry; any other status → failed."""

    name = "webhook"

    def __init__(self, crm):
        self.crm = crm

    def send(self, batch) -> Iterator[SendResult]:
        from crmkit.plugin import Poster

        settings = settings_of(self.crm.plugin_config(PLUGIN_NAME)).webhook
        url = _required(settings, "url", "webhook", "https://hooks.example.com/crm")
        secret = _secret(settings.secret_env, "webhook.secret_env")
        if secret is None:
            raise ConfigError("campaigns config webhook.secret_env is not set: name the "
                              "environment variable holding the signing secret")
        with Poster.for_webhooks(self.crm) as poster:
            for message in batch:
                if message.expired():  # recorded as a retry: sent again by a later round
                    yield SendResult(message.message_id, "retry", EXPIRED)
                else:
                    yield self._post(poster, url, secret, message)

    @staticmethod
    def body(message) -> bytes:
        """The JSON document POSTed for one message."""
        document = {"message_id": message.message_id, "recipient": message.recipient,
                    "customer": message.customer, "subject": message.subject,
                    "body": message.body, "html": message.html, "headers": message.headers,
                    "meta": message.meta}
        return json.dumps(jsonable(document), sort_keys=True, ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")

    def _post(self, poster, url: str, secret: str, message) -> SendResult:
        from crmkit.plugin import PostFailed

        body = self.body(message)
        headers = {**webhook_headers(secret, body, delivery_id(message.message_id), EVENT_TYPE,
                                     int(self.crm.clock.now().timestamp())),
                   MESSAGE_ID_HEADER: message.message_id}
        shown = masked_url(url)  # the message's error and events never show its credentials
        try:
            status, reason = poster.post(url, body, headers)
        except PostFailed as exc:
            return SendResult(message.message_id, "retry", f"POST {shown}: {exc}")
        detail = f"POST {shown}: HTTP {status} {reason or ''}".strip()
        if 200 <= status < 300:
            return SendResult(message.message_id, "sent", detail)
        temporary = status >= 500 or status in (408, 429)
        return SendResult(message.message_id, "retry" if temporary else "failed", detail)


def delivery_id(message_id: str) -> str:
    """The ``X-Crmkit-Delivery`` of a webhook message: a UUID made from its Message-ID (as a
    ``mid:`` URL), the same on every attempt."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "mid:" + message_id.strip("<>")))


@crmkit.hookimpl
def crmkit_channels(crm):
    """The campaigns plugin's channels: ``email`` and ``webhook``."""
    return [EmailChannel(crm), WebhookChannel(crm)]


__all__ = ["EmailChannel", "WebhookChannel", "crmkit_channels", "delivery_id",
           "MESSAGE_ID_HEADER", "EVENT_TYPE"]
