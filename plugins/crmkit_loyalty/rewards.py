"""The rewards catalogue and atomic redemption."""

from __future__ import annotations

import datetime as dt

import attrs
from sqlalchemy import insert, select, update

from crmkit.plugin import ConflictError, NotFound, ValidationError, text_limit

from . import ledger as lg
from .errors import NotEnoughPoints, OutOfStock
from .inactivity import Inactivity
from .tables import REWARD_CODE_WIDTH, REWARD_NAME_WIDTH, rewards


@attrs.frozen
class Reward:
    """A catalogue entry; ``stock`` None means unlimited."""

    code: str
    name: str
    points: int
    stock: int | None
    active: bool


def add(tx, code: str, points: int, stock: int | None = None, name: str | None = None) -> Reward:
    """Add a reward to the catalogue (a code already present is a ConflictError)."""
    if not isinstance(code, str) or not code.strip():
        raise ValidationError(f"reward code: {code!r} must be non-empty text")
    if problem := text_limit(tx.crm, REWARD_CODE_WIDTH).problem(code):
        raise ValidationError(f"reward code: {problem}")
    if name is not None and not isinstance(name, str):
        raise ValidationError(f"reward {code}: name: must be text, got {type(name).__name__}")
    if name and (problem := text_limit(tx.crm, REWARD_NAME_WIDTH).problem(name)):
        raise ValidationError(f"reward {code}: name: {problem}")
    if not isinstance(points, int) or isinstance(points, bool) or points < 1:
        raise ValidationError(f"reward {code}: points: {points!r} must be a whole number >= 1")
    if stock is not None and (not isinstance(stock, int) or isinstance(stock, bool) or stock < 0):
        raise ValidationError(f"reward {code}: stock: {stock!r} must be a whole number >= 0 "
                              "(or absent for unlimited)")
    if tx.conn.execute(select(rewards.c.code).where(rewards.c.code == code)).first():
        raise ConflictError(f"reward {code!r} already exists (use restock to add stock)")
    tx.conn.execute(insert(rewards), {"code": code, "name": name or code, "points": points,
                                      "stock": stock, "active": True, "created_at": tx.now()})
    tx.audit("create", "loyalty_rewards", code, {"points": points, "stock": stock})
    return Reward(code, name or code, points, stock, True)


def get(conn, code: str, lock: bool = False) -> Reward:
    """One reward by code, or NotFound listing how to see the catalogue."""
    query = select(rewards.c.code, rewards.c.name, rewards.c.points, rewards.c.stock,
                   rewards.c.active).where(rewards.c.code == code)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"no reward {code!r} in the catalogue (see `crmkit loyalty rewards list`)")
    return Reward(*row)


def listing(conn) -> list[Reward]:
    """The whole catalogue by code."""
    return [Reward(*r) for r in conn.execute(
        select(rewards.c.code, rewards.c.name, rewards.c.points, rewards.c.stock,
               rewards.c.active).order_by(rewards.c.code))]


def restock(tx, code: str, quantity: int) -> Reward:
    """Add ``quantity`` (>= 1) to a stocked reward."""
    reward = get(tx.conn, code, lock=True)
    if reward.stock is None:
        raise ValidationError(f"reward {code!r} has unlimited stock; nothing to restock")
    if not isinstance(quantity, int) or quantity < 1:
        raise ValidationError(f"restock {code}: quantity {quantity!r} must be a whole number >= 1")
    tx.conn.execute(update(rewards).where(rewards.c.code == code)
                    .values(stock=rewards.c.stock + quantity))
    tx.audit("update", "loyalty_rewards", code, {"stock": [reward.stock, reward.stock + quantity]})
    return attrs.evolve(reward, stock=reward.stock + quantity)


def set_active(tx, code: str, active: bool) -> Reward:
    """Retire a reward from (or return it to) the catalogue; past redemptions stay."""
    reward = get(tx.conn, code, lock=True)
    tx.conn.execute(update(rewards).where(rewards.c.code == code).values(active=active))
    tx.audit("update", "loyalty_rewards", code, {"active": [reward.active, active]})
    return attrs.evolve(reward, active=active)


def redeem(tx, customer_id: int, external_id: str, code: str, moment: dt.datetime,
           inactivity: Inactivity | None) -> int:
    """Spend a reward's points (FIFO over spendable lots) and one unit of its stock, atomically.

    The member's row is locked first (``FOR UPDATE`` on PostgreSQL; on SQLite the
    transaction already holds the write lock), so concurrent redemptions by one
    member are serialised and can never overspend; stock is taken by a
    conditional ``UPDATE … WHERE stock > 0``.  Raises NotEnoughPoints or
    OutOfStock with nothing written (the caller's transaction rolls back).  ``inactivity``:
    the expiry mode's rule at ``moment``, if it is ``inactivity`` (lapsed points are not spent).
    """
    conn = tx.conn
    reward = get(conn, code)
    if not reward.active:
        raise NotFound(f"reward {code!r} is retired and cannot be redeemed")
    if reward.stock is not None and reward.stock <= 0:
        raise OutOfStock(f"reward {code!r} is out of stock")
    lg.lock_members(conn, [customer_id])
    lots = lg.open_lots(conn, [customer_id], inactivity=inactivity,
                        written_off_after=moment).get(customer_id, [])
    available = sum(lot.remaining for lot in lg.usable(lots, moment))
    if available < reward.points:
        raise NotEnoughPoints(f"customer {external_id!r} has {available} points available; "
                              f"reward {code!r} costs {reward.points}")
    uses = lg.take(lots, reward.points, moment)
    [ledger_id] = lg.append(conn, [{
        "customer_id": customer_id, "at": moment, "type": "spend", "source": "reward",
        "points": -reward.points, "reward_code": code, "reason": f"reward {code}",
        "uses": uses}], tx.now(), tx.actor)
    if reward.stock is not None:
        taken = conn.execute(update(rewards).where(rewards.c.code == code, rewards.c.stock > 0)
                             .values(stock=rewards.c.stock - 1)).rowcount
        if taken != 1:  # another redemption took the last unit meanwhile: roll back
            raise OutOfStock(f"reward {code!r} is out of stock")
    tx.emit("reward.redeemed", customer_id, {"reward": code, "points": reward.points,
                                             "ledger_id": ledger_id})
    return ledger_id
