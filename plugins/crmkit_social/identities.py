"""Social identities: (platform, handle) normalised and owned by at most one customer."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, insert, select, update

from crmkit.plugin import (ConflictError, NotFound, ValidationError, allocate_ids, customers,
                           text_limit)

from .tables import identities, mentions

PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
HANDLE_LIMIT = 200
"""The handle column's width (lower if the core config's ``max_field_length`` is lower)."""


PLATFORM_ALIASES = {"weixin": "wechat", "wechat-work": "wecom", "wechatwork": "wecom",
                    "wxwork": "wecom"}
"""Other names of the Chinese platforms, stored under one name."""

WECHAT_ID = re.compile(r"^[a-z][a-z0-9_-]{5,19}$")
OPEN_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
QQ_NUMBER = re.compile(r"^[1-9][0-9]{4,11}$")
WECHAT_PREFIXES = ("openid:", "unionid:")


def platform_problem(platform: object) -> str | None:
    """Why ``platform`` is not a platform name, or None."""
    if not isinstance(platform, str) or not PLATFORM.match(platform.strip().lower()):
        return (f"{platform!r} is not a platform name (letters, digits, '_', '.', '-'; "
                "at most 50 characters)")
    return None


def normalise_platform(platform: str) -> str:
    """Lower-cased, trimmed platform name, aliases resolved (``weixin`` → ``wechat``);
    ValidationError if it is not one."""
    problem = platform_problem(platform)
    if problem:
        raise ValidationError(f"platform: {problem}")
    name = platform.strip().lower()
    return PLATFORM_ALIASES.get(name, name)


def normalise_handle(handle: str, platform: str | None = None, limit: Any = None) -> str:
    """The handle as stored under ``platform``'s rule (see :func:`normalised`)."""
    value, problem = normalised(handle, platform, limit)
    if problem:
        raise ValidationError(f"handle: {problem}")
    return value


def normalised(handle: object, platform: str | None, limit: Any = None
               ) -> tuple[str, str | None]:
    """``(stored handle, None)`` or ``("", problem)``.

    Every platform: trimmed, one leading ``@`` removed, no spaces, within ``limit``
    (:func:`crmkit.plugin.text_limit` of :data:`HANDLE_LIMIT`: a handle taken in is
    capped by the core config's ``max_field_length``; None, for looking up a stored
    handle: :data:`HANDLE_LIMIT` characters).  Then per platform:

    * ``wechat``: ``openid:ID`` / ``unionid:ID`` keep the ID's case (OpenIDs
      and UnionIDs are case-sensitive; the prefix is not); otherwise a WeChat
      ID, lower-cased: a letter then 5–19 letters, digits, ``_`` or ``-``;
    * ``wecom`` (WeChat Work): the external user ID, case kept;
    * ``qq``: the QQ number, 5–12 digits, a ``qq``/``QQ:`` prefix removed;
    * any other platform (``weibo``, ``douyin``, ``twitter`` …): lower-cased.
    """
    if not isinstance(handle, str):
        return "", f"must be text, got {type(handle).__name__}"
    text = handle.strip()
    text = text[1:] if text.startswith("@") else text
    if not text:
        return "", "empty handle"
    if text.startswith("@") or any(ch.isspace() for ch in text):
        return "", f"{handle!r} is not a handle (one leading '@' at most, no spaces)"
    if limit is None and len(text) > HANDLE_LIMIT:
        return "", f"{len(text)} characters; at most {HANDLE_LIMIT}"
    if limit is not None and (problem := limit.problem(text)):
        return "", problem
    if platform == "wechat":
        prefix = next((p for p in WECHAT_PREFIXES if text.lower().startswith(p)), None)
        if prefix:
            ident = text[len(prefix):]
            if not OPEN_ID.match(ident):
                return "", (f"{handle!r} is not a WeChat {prefix[:-1]} (16-64 letters, digits, "
                            "'_' or '-')")
            return prefix + ident, None
        if not WECHAT_ID.match(text.lower()):
            return "", (f"{handle!r} is not a WeChat ID (a letter, then 5-19 letters, digits, "
                        "'_' or '-') nor openid:ID / unionid:ID")
        return text.lower(), None
    if platform == "wecom":
        if not OPEN_ID.match(text):
            return "", f"{handle!r} is not a WeChat Work user ID (16-64 letters, digits, '_' or '-')"
        return text, None
    if platform == "qq":
        number = text[3:] if text.lower().startswith("qq:") else text
        number = number[2:] if number.lower().startswith("qq") else number
        if not QQ_NUMBER.match(number):
            return "", f"{handle!r} is not a QQ number (5-12 digits, not starting with 0)"
        return number, None
    return text.lower(), None


def owner(conn, platform: str, handle: str) -> tuple[int, str] | None:
    """``(customer id, external id)`` owning a normalised handle, or None."""
    row = conn.execute(select(identities.c.customer_id, customers.c.external_id)
                       .join(customers, customers.c.id == identities.c.customer_id)
                       .where(identities.c.platform == platform,
                              identities.c.handle == handle)).first()
    return (row[0], row[1]) if row else None


def link(ctx, customer_id: int, external_id: str, platform: str, handle: str) -> bool:
    """Link a handle to a customer; False if it already was.  Owned by another customer → ConflictError.

    Mentions already imported from that handle are attached to the customer.
    """
    platform = normalise_platform(platform)
    handle = normalise_handle(handle, platform, text_limit(ctx.crm, HANDLE_LIMIT))
    current = owner(ctx.conn, platform, handle)
    if current is not None:
        if current[0] == customer_id:
            return False
        raise ConflictError(f"{platform} handle {handle!r} already belongs to customer "
                            f"{current[1]!r}")
    identity_id = allocate_ids(ctx.conn, identities, 1)
    ctx.conn.execute(insert(identities), {"id": identity_id, "customer_id": customer_id,
                                          "platform": platform, "handle": handle,
                                          "linked_at": ctx.now()})
    ctx.conn.execute(update(mentions).where(mentions.c.platform == platform,
                                            mentions.c.handle == handle,
                                            mentions.c.customer_id.is_(None),
                                            mentions.c.erased_at.is_(None))
                     .values(customer_id=customer_id))
    ctx.audit("link", "social_identities", str(identity_id),
              {"platform": platform, "customer": external_id}, customer_id=customer_id)
    return True


def unlink(ctx, customer_id: int, external_id: str, platform: str, handle: str) -> None:
    """Remove a customer's handle; its mentions stay but no longer count for the customer."""
    platform = normalise_platform(platform)
    handle = normalise_handle(handle, platform)
    current = owner(ctx.conn, platform, handle)
    if current is None or current[0] != customer_id:
        raise NotFound(f"customer {external_id!r} has no {platform} handle {handle!r}")
    identity_id = ctx.conn.execute(select(identities.c.id).where(
        identities.c.platform == platform, identities.c.handle == handle)).scalar_one()
    ctx.conn.execute(delete(identities).where(identities.c.id == identity_id))
    ctx.conn.execute(update(mentions).where(mentions.c.platform == platform,
                                            mentions.c.handle == handle,
                                            mentions.c.customer_id == customer_id)
                     .values(customer_id=None))
    ctx.audit("unlink", "social_identities", str(identity_id),
              {"platform": platform, "customer": external_id}, customer_id=customer_id)
