"""``Idempotency-Key`` on POST: a retried request gets the first response and writes nothing.

The key (per caller) is stored with the response in the same transaction as the request's
writes (for an endpoint with ``own_transactions``, the one its handler's first write opens,
kept open until it returns: what it checks before, such as a webhook's host resolved, still
holds no write lock), under a unique constraint: a retry after the commit finds it and is
answered from it; a retry racing the first request either waits for it (SQLite's single
writer) and finds it, or fails on the constraint when it commits second (PostgreSQL) — its
transaction, writes included, is rolled back and it is answered from the stored response.
Only successful responses are stored: a refused request wrote nothing, so its retry runs
again.  Keys are kept for :data:`KEY_LIFETIME`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Sequence

from sqlalchemy import delete, insert, select

from .. import tables
from ..errors import ValidationError
from ..types import IDENTIFIER, text_problem

KEY_LIFETIME = dt.timedelta(hours=24)
"""How long a stored key answers retries; older keys are deleted as new ones are stored."""
MAX_KEY_LENGTH = 200
HEADER = "idempotency-key"


def checked_key(text: str) -> str:
    """The header's key, or a ValidationError naming the header and what is allowed."""
    key = text.strip()
    problem = text_problem(key, IDENTIFIER) if key else "empty"
    if problem is None and len(key) > MAX_KEY_LENGTH:
        problem = f"{len(key)} characters; at most {MAX_KEY_LENGTH}"
    if problem is not None:
        raise ValidationError(f"Idempotency-Key: {problem}",
                              [("header", "Idempotency-Key", problem)])
    return key


def fingerprint(method: str, path: str, query: Sequence[tuple[str, str]], body: bytes) -> str:
    """What identifies "the same request" for one key: method, path, query and body."""
    digest = hashlib.sha256()
    digest.update(json.dumps([method, path, list(map(list, query))]).encode())
    digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


def stored(conn, actor: str, key: str) -> dict[str, Any] | None:
    """The stored response of ``actor``'s ``key``, if any."""
    t = tables.idempotency_keys
    row = conn.execute(select(t.c.request_hash, t.c.status, t.c.response, t.c.headers)
                       .where(t.c.actor == actor, t.c.key == key)).mappings().first()
    return dict(row) if row is not None else None


def store(conn, actor: str, key: str, request_hash: str, status: int, body: bytes,
          headers: dict[str, str], now: dt.datetime) -> None:
    """Store a response under ``actor``'s ``key`` (inside the request's transaction) and drop
    keys older than :data:`KEY_LIFETIME`."""
    t = tables.idempotency_keys
    conn.execute(delete(t).where(t.c.created_at < now - KEY_LIFETIME))
    conn.execute(insert(t), {"actor": actor, "key": key, "request_hash": request_hash,
                             "status": status, "response": body.decode("utf-8"),
                             "headers": dict(headers), "created_at": now})


def mismatch(key: str) -> ValidationError:
    """The error for a key reused with a different request."""
    problem = ("was used for a different request (method, path, query or body); use a new "
               "key for a new request")
    return ValidationError(f"Idempotency-Key {key!r} {problem}",
                           [("header", "Idempotency-Key", problem)])


__all__ = ["KEY_LIFETIME", "MAX_KEY_LENGTH", "HEADER", "checked_key", "fingerprint", "stored",
           "store", "mismatch"]
