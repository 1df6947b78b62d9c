"""The worker's outbound HTTP: POSTs that each end within one deadline, to allowed addresses.

A timeout on each network operation does not bound a request: a receiver that sends a
header line every few seconds never lets one read time out.  :class:`Poster` gives each
request one deadline, ``timeout`` seconds from its start, that bounds all of it (connecting,
sending, and the answer's status line and headers; the answer's body is never read): every
network operation may wait only for what is left of it.  Used by the core's webhooks and
by the campaigns plugin's webhook channel.

The poster's :class:`Destinations` limit where it connects: the host's name is resolved
when connecting (within the deadline too: :func:`resolve`) and every address it has must be
public or in one of the allowed networks (core config ``webhooks.allowed_networks``); the
connection goes to an address so checked, so a DNS answer that changes after a check cannot
lead it elsewhere.
"""

from __future__ import annotations

import base64
import ipaddress
import queue
import socket
import threading
import time
from typing import Any, Callable, Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

import attrs
import httpcore

from .errors import ConfigError

monotonic: Callable[[], float] = time.monotonic
"""The clock of the deadlines (tests replace it)."""


class PostFailed(Exception):
    """A POST that got no answer; ``str()`` is one line saying why."""


class DestinationRefused(httpcore.ConnectError):
    """A host that resolves to an address deliveries may not connect to."""


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _kind(address: Address) -> str | None:
    """What kind of address deliveries may not connect to ``address`` is ("link-local"); None
    for a public one."""
    if address.is_global and not address.is_multicast:
        return None
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    return "non-public"


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
"""The NAT64 well-known prefix (RFC 6052): a gateway delivers to the IPv4 address in its
last 32 bits."""
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
"""The local-use NAT64 prefix (RFC 8215): its gateways lead into the site's own network."""
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
"""The deprecated IPv4-compatible addresses (``::10.0.0.1``), whose last 32 bits are an IPv4
address (``::`` and ``::1`` excepted)."""


def _embedded_ipv4(ip: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 ``ip`` leads to through a translator or tunnel: NAT64's
    well-known prefix, 6to4 (``2002::/16``) or an IPv4-compatible address; None for any
    other address (an IPv4-mapped one is that IPv4 address already)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


@attrs.frozen
class Destinations:
    """Where deliveries may connect: public addresses, and any address in ``allowed``."""

    allowed: tuple[Network, ...] = ()

    @classmethod
    def of_setting(cls, networks: Iterable[str],
                   where: str = "core config /webhooks/allowed_networks") -> "Destinations":
        """From the setting's texts (``10.0.0.0/8``, ``::1``); a ConfigError names a bad one."""
        parsed = []
        for number, text in enumerate(networks):
            try:
                parsed.append(ipaddress.ip_network(text, strict=False))
            except ValueError:
                raise ConfigError(f"{where}/{number}: {text!r} is not a network (allowed: an "
                                  "address or CIDR network, e.g. 127.0.0.1 or 10.0.0.0/8 or "
                                  "fd00::/8)") from None
        return cls(tuple(parsed))

    def refusal(self, address: str) -> str | None:
        """What kind of address ``address`` is when it may not be connected to ("a loopback
        address"); None when it may.  An IPv6 address that carries an IPv4 address a
        gateway or tunnel delivers to (:func:`_embedded_ipv4`) is judged by that one."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        inner = _embedded_ipv4(ip)
        if any(found in network for found in (ip, inner) if found is not None
               for network in self.allowed):
            return None
        kind = "private" if ip in _NAT64_LOCAL else _kind(ip if inner is None else inner)
        if kind is None:
            return None
        carried = "" if inner is None else f" (it carries {inner})"
        return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} address{carried}"

    def addresses(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        """The addresses ``host`` resolves to (waiting at most ``timeout`` seconds for the
        answer), when each may be connected to; else :class:`DestinationRefused`
        (:class:`httpcore.ConnectError` when it does not resolve,
        :class:`httpcore.ConnectTimeout` when the answer is late)."""
        try:
            addresses = resolve(host, port, timeout)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from None
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from None
        for address in addresses:
            kind = self.refusal(address)
            if kind is not None:
                subject = (f"{address} is" if address == host.strip("[]")
                           else f"{host!r} resolves to {address},")
                listed = ", ".join(map(str, self.allowed)) or "none"
                raise DestinationRefused(
                    f"{subject} {kind}: webhooks may target it only when core config "
                    f"webhooks.allowed_networks lists it (now: {listed})")
        return addresses


def resolve(host: str, port: int, timeout: float | None = None) -> list[str]:
    """The distinct addresses ``host`` resolves to for a TCP connection to ``port``, in the
    resolver's order: :func:`socket.getaddrinfo`, waited for at most ``timeout`` seconds (None:
    as long as it takes).  A late answer is a TimeoutError (the lookup, which cannot be
    cancelled, ends in a daemon thread); a name that does not resolve is the resolver's
    OSError (``socket.gaierror``) or UnicodeError."""
    if timeout is None:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    else:
        answer: queue.SimpleQueue = queue.SimpleQueue()

        def look_up() -> None:
            try:
                answer.put(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
            except Exception as exc:  # handed to the caller, raised there
                answer.put(exc)

        threading.Thread(target=look_up, name="crmkit-resolve", daemon=True).start()
        try:
            found = answer.get(timeout=max(timeout, 0))
        except queue.Empty:
            raise TimeoutError(f"resolving {host!r} took longer than {timeout:g} s") from None
        if isinstance(found, Exception):
            raise found
    return list(dict.fromkeys(info[4][0] for info in found))


class Deadline:
    """When the work in hand (a request, an SMTP delivery, a batch) must be done, on
    :data:`monotonic`; none until :meth:`start`."""

    def __init__(self) -> None:
        self.clear()

    def start(self, seconds: float) -> None:
        """The deadline is ``seconds`` from now."""
        self.ends = monotonic() + seconds

    def clear(self) -> None:
        """No deadline."""
        self.ends = float("inf")

    def remaining(self) -> float:
        """Seconds until the deadline (0 or less once it has passed)."""
        return self.ends - monotonic()

    def left(self, timeout: float | None, expired: type[Exception]) -> float:
        """The wait allowed for one operation: ``timeout`` (None: no limit of its own), at
        most what is left; ``expired`` is raised when nothing is."""
        left = self.remaining()
        if left <= 0:
            raise expired("the deadline has passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: Deadline):
        self._stream, self._deadline = stream, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait),
                               self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """Opens TCP connections, to addresses ``destinations`` allows, within the deadline
    (resolving the host's name too), and hands out :class:`_DeadlineStream`s."""

    def __init__(self, deadline: Deadline, destinations: Destinations):
        self._deadline = deadline
        self._destinations = destinations
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        addresses = self._destinations.addresses(
            host, port, self._deadline.left(timeout, httpcore.ConnectTimeout))
        for number, address in enumerate(addresses):
            wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
            try:
                stream = self._backend.connect_tcp(address, port, wait, local_address,
                                                   socket_options)
            except httpcore.ConnectError:
                if number == len(addresses) - 1:
                    raise
                continue
            return _DeadlineStream(stream, self._deadline)
        raise httpcore.ConnectError(f"{host!r} has no address")

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("deliveries are never sent over a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class Poster:
    """POSTs over one pool of connections, each request done within ``timeout_seconds``
    (the core config ``webhooks.timeout_seconds``), connecting only where ``destinations``
    allows (by default: public addresses only).  A user and password in a URL are sent as
    HTTP basic authentication.  Redirects are not followed and no proxy is used.  Close it
    (or use it as a context manager) when done."""

    def __init__(self, timeout_seconds: float, user_agent: str,
                 destinations: Destinations = Destinations()):
        self.timeout_seconds = timeout_seconds
        self.user_agent = user_agent
        self._deadline = Deadline()
        self._pool = httpcore.ConnectionPool(
            network_backend=_DeadlineBackend(self._deadline, destinations))

    @classmethod
    def for_webhooks(cls, crm) -> "Poster":
        """A poster as the core config ``webhooks`` says: each request within
        ``timeout_seconds``, to public addresses and the ``allowed_networks``;
        User-Agent ``crmkit/<version>``."""
        from . import __version__

        settings = crm.core_config["webhooks"]
        return cls(settings["timeout_seconds"], f"crmkit/{__version__}",
                   Destinations.of_setting(settings["allowed_networks"]))

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST ``body`` to ``url``: ``(status code, reason phrase)`` of the answer (its body
        is not read), or :class:`PostFailed` when no answer came within the deadline or the
        receiver could not be reached."""
        url, credentials = _without_credentials(url)
        if credentials:
            headers = {"Authorization": f"Basic {credentials}", **headers}
        wait = self.timeout_seconds
        extensions = {"timeout": {"connect": wait, "read": wait, "write": wait, "pool": wait}}
        self._deadline.start(wait)
        try:
            with self._pool.stream("POST", url, headers={"User-Agent": self.user_agent,
                                                         **headers},
                                   content=body, extensions=extensions) as response:
                reason = response.extensions.get("reason_phrase", b"")
                return response.status, reason.decode("ascii", "replace")
        except httpcore.TimeoutException as exc:
            raise PostFailed(f"{type(exc).__name__}: no complete answer within "
                             f"{wait:g} s (webhooks.timeout_seconds)") from None
        except (httpcore.NetworkError, httpcore.ProtocolError,
                httpcore.UnsupportedProtocol) as exc:
            raise PostFailed(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._deadline.clear()

    def close(self) -> None:
        """Close the pool's connections."""
        self._pool.close()

    def __enter__(self) -> "Poster":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _without_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its user and password, and them as a basic authentication token."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    token = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    host = parts.netloc.rpartition("@")[2]
    return (urlunsplit(parts._replace(netloc=host)),
            base64.b64encode(token.encode("utf-8")).decode("ascii"))


__all__ = ["Poster", "PostFailed", "Destinations", "DestinationRefused", "Deadline", "resolve"]
