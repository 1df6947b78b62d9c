"""The campaigns configuration as typed settings, built once per stored configuration, and
what its schema cannot check (:func:`check_config`)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import attrs

from crmkit.plugin import (ConfigError, ValidationError, check_webhook_destination, to_money,
                           typed_settings, webhook_networks_narrowed)


@attrs.frozen
class Email:
    """The email channel's SMTP server (``host`` and ``sender`` are required to send)."""

    host: str | None
    port: int
    sender: str | None
    starttls: bool
    username: str | None
    password_env: str | None
    """Name of the environment variable holding the SMTP password."""
    connections: int
    timeout_seconds: float
    local_hostname: str | None
    """The name given in EHLO; None: this machine's host name."""


@attrs.frozen
class Limits:
    """What rendering one message may use: CPU seconds and MB of memory
    (:mod:`.render_process`)."""

    cpu_seconds: int
    memory_mb: int


@attrs.frozen
class Webhook:
    """The webhook channel (``url`` and ``secret_env`` are required to send)."""

    url: str | None
    secret_env: str | None
    """Name of the environment variable holding the signing secret."""


@attrs.frozen
class Cap:
    """At most ``messages`` messages per customer on a channel within the last ``days``."""

    messages: int
    days: int


@attrs.frozen
class QuietHours:
    """No message is sent from ``start`` to ``end`` (customer's local time; ``end`` before
    ``start``: they end the next day)."""

    start: dt.time
    end: dt.time


@attrs.frozen
class Trigger:
    """Plan a customer into ``campaign`` ``hours`` after an ``after`` interaction not
    followed by an ``unless`` one (None: nothing cancels)."""

    campaign: str
    after: str
    unless: str | None
    hours: float


@attrs.frozen
class RewardCoupon:
    """The coupon a redeemed loyalty reward issues: ``value`` off as ``kind`` (``amount`` in
    ``currency``, or ``percent``), valid ``valid_days`` from issue (None: no expiry)."""

    kind: str
    value: Decimal
    currency: str | None
    valid_days: int | None


@attrs.frozen
class Settings:
    """The plugin's validated configuration, typed (money exact)."""

    email: Email
    webhook: Webhook
    render: Limits
    """What rendering one message may use."""
    frequency_caps: dict[str, Cap]
    """Per channel; a channel not listed has no cap."""
    quiet_hours: QuietHours | None
    crm_per_month: Decimal
    """What running the CRM costs a month, in the default currency."""
    acquisition_per_month: Decimal
    """Acquisition spending a month outside campaigns, in the default currency."""
    attribution_model: str
    """``first_touch`` or ``last_touch``."""
    attribution_days: int
    """The attribution window of a campaign that sets none."""
    triggers: tuple[Trigger, ...]
    reward_coupons: dict[str, RewardCoupon]
    """Per loyalty reward code, the coupon redeeming it issues."""
    timezone_attribute: str
    """The customer attribute holding the customer's IANA time zone."""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """Build settings from the stored (schema-valid, defaults filled) configuration."""
        quiet = config["quiet_hours"]
        costs = config["costs"]
        return cls(
            email=Email(**config["email"]), webhook=Webhook(**config["webhook"]),
            render=Limits(**config["render"]),
            frequency_caps={channel: Cap(**cap)
                            for channel, cap in config["frequency_caps"].items()},
            quiet_hours=None if quiet is None else QuietHours(_hhmm(quiet["start"]),
                                                              _hhmm(quiet["end"])),
            crm_per_month=_exact(costs["crm_per_month"]),
            acquisition_per_month=_exact(costs["acquisition_per_month"]),
            attribution_model=config["attribution"]["model"],
            attribution_days=config["attribution"]["days"],
            triggers=tuple(Trigger(**trigger) for trigger in config["triggers"]),
            reward_coupons={code: _reward_coupon(spec)
                            for code, spec in config["coupons"]["rewards"].items()},
            timezone_attribute=config["timezone_attribute"],
        )


def _hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


def _exact(value: int | float) -> Decimal:
    """A JSON number as the exact Decimal it reads as (``0.1`` → ``Decimal("0.1")``)."""
    return Decimal(str(value))


def _reward_coupon(spec: dict[str, Any]) -> RewardCoupon:
    kind = "percent" if "percent" in spec else "amount"
    return RewardCoupon(kind, to_money(spec[kind]), spec.get("currency"),
                        spec.get("valid_days"))


def settings_of(config: dict[str, Any]) -> Settings:
    """The settings of the stored configuration ``config`` (built once per configuration)."""
    return typed_settings(Settings, config)


def check_config(crm, config: dict[str, Any], previous: dict[str, Any] | None,
                 core_config: dict[str, Any], previous_core_config: dict[str, Any] | None) -> None:
    """Raise ConfigError at ``/webhook/url`` unless the webhook channel's URL may be posted
    to: an http(s) URL whose host resolves, within the core config
    ``webhooks.timeout_seconds``, only to public addresses or to addresses in the core config
    ``webhooks.allowed_networks``, as a core webhook's (the channel checks again at each
    connection).  A URL the ``previous`` configuration has too is not resolved again (it was
    when set) unless the allowed networks narrowed since it was checked (or when that is not
    known); an address host is always checked against the networks allowed now."""
    url = config["webhook"]["url"]
    if url is None:
        return
    webhooks = core_config["webhooks"]
    unchanged = (previous is not None and previous.get("webhook", {}).get("url") == url
                 and previous_core_config is not None
                 and not webhook_networks_narrowed(
                     previous_core_config["webhooks"]["allowed_networks"],
                     webhooks["allowed_networks"]))
    try:
        check_webhook_destination(url, webhooks["allowed_networks"],
                                  webhooks["timeout_seconds"], lookup=not unchanged)
    except ValidationError as exc:
        detail = exc.problems[0][2]
        raise ConfigError(f"/webhook/url: {detail}", [("/webhook/url", detail)]) from None


__all__ = ["Cap", "Email", "Limits", "QuietHours", "RewardCoupon", "Settings", "Trigger", "Webhook",
           "check_config", "settings_of"]
