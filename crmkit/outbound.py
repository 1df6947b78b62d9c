"""The worker's outbound HTTP: POSTs that each end within one deadline.

A timeout on each network operation does not bound a request: a receiver that sends a
header line every few seconds never lets one read time out.  :class:`Poster` gives each
request one deadline, ``timeout`` seconds from its start, that bounds all of it (connecting,
sending, and the answer's status line and headers; the answer's body is never read): every
network operation may wait only for what is left of it.  Used by the core's webhooks and
by the campaigns plugin's webhook channel.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import httpcore

monotonic: Callable[[], float] = time.monotonic
"""The clock of the deadlines (tests replace it)."""


class PostFailed(Exception):
    """A POST that got no answer; ``str()`` is one line saying why."""


class _Deadline:
    """When the request in hand must be done, on :data:`monotonic`."""

    def __init__(self) -> None:
        self.clear()

    def start(self, seconds: float) -> None:
        self.ends = monotonic() + seconds

    def clear(self) -> None:
        self.ends = float("inf")

    def left(self, timeout: float | None, expired: type[httpcore.TimeoutException]) -> float:
        """The wait allowed for one operation: ``timeout``, at most what is left; ``expired``
        is raised when nothing is."""
        left = self.ends - monotonic()
        if left <= 0:
            raise expired("the request's deadline has passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline):
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
    """Opens TCP connections within the deadline and hands out :class:`_DeadlineStream`s."""

    def __init__(self, deadline: _Deadline):
        self._deadline = deadline
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options=None) -> httpcore.NetworkStream:
        wait = self._deadline.left(timeout, httpcore.ConnectTimeout)
        stream = self._backend.connect_tcp(host, port, wait, local_address, socket_options)
        return _DeadlineStream(stream, self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options=None) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("deliveries are never sent over a Unix socket")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class Poster:
    """POSTs over one pool of connections, each request done within ``timeout_seconds``
    (the core config ``webhooks.timeout_seconds``).  Redirects are not followed and no
    proxy is used.  Close it (or use it as a context manager) when done."""

    def __init__(self, timeout_seconds: float, user_agent: str):
        self.timeout_seconds = timeout_seconds
        self.user_agent = user_agent
        self._deadline = _Deadline()
        self._pool = httpcore.ConnectionPool(network_backend=_DeadlineBackend(self._deadline))

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST ``body`` to ``url``: ``(status code, reason phrase)`` of the answer (its body
        is not read), or :class:`PostFailed` when no answer came within the deadline or the
        receiver could not be reached."""
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


__all__ = ["Poster", "PostFailed"]
