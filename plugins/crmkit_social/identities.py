"""Social identities: (platform, handle) normalised and owned by at most one customer."""

from __future__ import annotations

import re

from sqlalchemy import delete, insert, select, update

from crmkit.plugin import ConflictError, NotFound, ValidationError, allocate_ids, customers

from .tables import identities, mentions

PLATFORM = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,49}$")
HANDLE_LIMIT = 200


def platform_problem(platform: object) -> str | None:
    """Why ``platform`` is not a platform name, or None."""
    if not isinstance(platform, str) or not PLATFORM.match(platform.strip().lower()):
        return (f"{platform!r} is not a platform name (letters, digits, '_', '.', '-'; "
                "at most 50 characters)")
    return None


def handle_problem(handle: object) -> str | None:
    """Why ``handle`` cannot be normalised, or None."""
    if not isinstance(handle, str):
        return f"must be text, got {type(handle).__name__}"
    text = handle.strip()
    text = text[1:] if text.startswith("@") else text
    if not text:
        return "empty handle"
    if text.startswith("@") or any(ch.isspace() for ch in text):
        return f"{handle!r} is not a handle (one leading '@' at most, no spaces)"
    if len(text) > HANDLE_LIMIT:
        return f"{len(text)} characters; at most {HANDLE_LIMIT}"
    return None


def normalise_platform(platform: str) -> str:
    """Lower-cased, trimmed platform name; ValidationError if it is not one."""
    problem = platform_problem(platform)
    if problem:
        raise ValidationError(f"platform: {problem}")
    return platform.strip().lower()


def normalise_handle(handle: str) -> str:
    """The handle as stored: trimmed, one leading ``@`` removed, lower-cased (``@Alice`` → ``alice``)."""
    problem = handle_problem(handle)
    if problem:
        raise ValidationError(f"handle: {problem}")
    text = handle.strip()
    return (text[1:] if text.startswith("@") else text).lower()


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
    platform, handle = normalise_platform(platform), normalise_handle(handle)
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
    platform, handle = normalise_platform(platform), normalise_handle(handle)
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
