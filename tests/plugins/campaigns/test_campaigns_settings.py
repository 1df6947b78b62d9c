"""The campaigns configuration as typed settings: exact money, parsed times, defaults filled,
built once per stored configuration and anew after it changes; and what the schema cannot
check."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from webhooks.support import core_webhooks, slowly_checked_campaigns, writes_while_checking
from crmkit_campaigns.settings import Cap, QuietHours, RewardCoupon, Trigger


def test_settings_are_typed_and_built_once_per_configuration(crm, campaigns):
    api = campaigns({
        "email": {"host": "smtp.example.com", "sender": "news@example.com"},
        "frequency_caps": {"email": {"messages": 3, "days": 7}},
        "quiet_hours": {"start": "21:30", "end": "08:00"},
        "costs": {"crm_per_month": 0.1, "acquisition_per_month": 304.375},
        "triggers": [{"campaign": "browsed", "after": "browse"}],
        "coupons": {"rewards": {"MUG": {"percent": "12.5", "valid_days": 30},
                                "TENNER": {"amount": "10.00", "currency": "EUR"}}}})
    settings = api.settings
    assert (settings.email.host, settings.email.port, settings.email.sender,
            settings.email.starttls, settings.email.connections) == (
        "smtp.example.com", 25, "news@example.com", False, 4)
    assert settings.webhook.url is None
    assert settings.frequency_caps == {"email": Cap(messages=3, days=7)}
    assert settings.quiet_hours == QuietHours(dt.time(21, 30), dt.time(8, 0))
    assert settings.crm_per_month == Decimal("0.1")  # not the float's binary expansion
    assert settings.acquisition_per_month == Decimal("304.375")
    assert (settings.attribution_model, settings.attribution_days) == ("last_touch", 30)
    assert settings.triggers == (Trigger("browsed", "browse", "purchase", 48),)
    assert settings.reward_coupons == {
        "MUG": RewardCoupon("percent", Decimal("12.5"), None, 30),
        "TENNER": RewardCoupon("amount", Decimal("10.00"), "EUR", None)}
    assert settings.timezone_attribute == "timezone"
    assert api.settings is settings
    crm.plugins.configure("campaigns", {"attribution": {"model": "first_touch", "days": 7}})
    changed = api.settings
    assert (changed.attribution_model, changed.attribution_days) == ("first_touch", 7)
    assert changed.quiet_hours is None and changed.triggers == ()


def test_the_webhook_url_may_target_only_what_core_webhooks_may(crm, campaigns):
    """The webhook channel's URL is checked when the configuration is set, as a core
    webhook's: the cloud metadata address, loopback and private addresses are refused, at
    /webhook/url, until the core config webhooks.allowed_networks lists them."""
    from crmkit.plugin import ConfigError

    rule = ("webhooks may target it only when core config webhooks.allowed_networks lists it "
            "(now: none)")
    metadata = "http://169.254.169.254/latest/meta-data/"
    with pytest.raises(ConfigError, match=r"^/webhook/url: 169\.254\.169\.254 is a link-local"):
        crm.plugins.enable("campaigns", {"webhook": {"url": metadata}})
    assert "campaigns" not in crm.enabled_plugins()
    campaigns()
    before = crm.plugin_config("campaigns")
    for url, detail in [
            (metadata, f"169.254.169.254 is a link-local address: {rule}"),
            ("http://127.0.0.1:8080/hook", f"127.0.0.1 is a loopback address: {rule}"),
            ("https://[::1]/hook", f"::1 is a loopback address: {rule}"),
            ("http://10.1.2.3/hook", f"10.1.2.3 is a private address: {rule}"),
            ("http://", "'http://' has no host (allowed: an absolute http:// or https:// URL "
                        "with a host)")]:
        with pytest.raises(ConfigError) as refused:
            crm.plugins.configure("campaigns", {**before, "webhook": {"url": url}})
        assert (str(refused.value), refused.value.problems) == (
            f"/webhook/url: {detail}", [("/webhook/url", detail)]), url
    assert crm.plugin_config("campaigns") == before
    public = "https://93.184.216.34/hook"
    assert crm.plugins.configure("campaigns", {**before, "webhook": {"url": public}}
                                 )["webhook"]["url"] == public
    config = dict(crm.core_config)
    config["webhooks"] = {**config["webhooks"], "allowed_networks": ["127.0.0.1/32"]}
    crm.plugins.configure_core(config)
    local = "http://127.0.0.1:8080/hook"
    assert crm.plugins.configure("campaigns", {**before, "webhook": {"url": local}}
                                 )["webhook"]["url"] == local


def test_a_webhook_url_whose_host_name_resolves_too_slowly_is_refused(crm, campaigns,
                                                                      slow_resolver):
    """The check of the URL's host waits for its name at most the core config
    webhooks.timeout_seconds; past it the configuration is refused at /webhook/url and
    stays as it was."""
    from crmkit.plugin import ConfigError

    core_webhooks(crm, timeout_seconds=0.05)
    campaigns()
    before = crm.plugin_config("campaigns")
    slow_resolver("hooks.example.test").hold()
    detail = ("resolving 'hooks.example.test' took longer than 0.05 s (core config "
              "webhooks.timeout_seconds; allowed: a host whose name resolves within it, or an "
              "address)")
    with pytest.raises(ConfigError) as refused:
        crm.plugins.configure("campaigns", {
            **before, "webhook": {"url": "https://hooks.example.test/hook"}})
    assert (str(refused.value), refused.value.problems) == (
        f"/webhook/url: {detail}", [("/webhook/url", detail)])
    assert crm.plugin_config("campaigns") == before


HOOK = "https://hooks.example.test/hook"


def test_a_change_keeping_the_webhook_url_does_not_wait_for_its_host_name(crm, campaigns,
                                                                          slow_resolver):
    """Only a new or changed webhook URL is resolved: while the resolver does not answer,
    changing something else (quiet hours), or the core configuration without narrowing the
    allowed networks, succeeds; a changed URL is still refused at the deadline."""
    from crmkit.plugin import ConfigError

    core_webhooks(crm, timeout_seconds=0.05, allowed_networks=["127.0.0.1/32"])
    resolver = slow_resolver("hooks.example.test")
    campaigns({"webhook": {"url": HOOK}})
    before = crm.plugin_config("campaigns")
    resolver.hold()
    quiet = {"start": "21:00", "end": "08:00"}
    assert crm.plugins.configure("campaigns", {**before, "quiet_hours": quiet}
                                 )["quiet_hours"] == quiet
    core_webhooks(crm, allowed_networks=["127.0.0.1/32", "10.0.0.0/8"])
    with pytest.raises(ConfigError, match=r"^/webhook/url: resolving 'hooks\.example\.test' "
                                          r"took longer than 0\.05 s"):
        crm.plugins.configure("campaigns", {
            **before, "webhook": {"url": "https://hooks.example.test/other"}})
    assert crm.plugins.config("campaigns")["webhook"]["url"] == HOOK


PRIVATE = ("'hooks.example.test' resolves to 10.1.2.3, a private address: webhooks may target "
           "it only when core config webhooks.allowed_networks lists it (now: none)")


def test_narrowing_the_allowed_networks_is_refused_while_the_webhook_url_needs_them(
        crm, campaigns, slow_resolver):
    """The plugin's check runs again when the core configuration changes: narrowing
    webhooks.allowed_networks so that the stored webhook.url's host (resolved again) would be
    refused is one error naming the plugin, its setting and the address, and nothing
    changes; once the URL is cleared the narrowing goes through."""
    from crmkit import CRM
    from crmkit.plugin import ConfigError

    core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    slow_resolver("hooks.example.test", address="10.1.2.3")
    campaigns({"webhook": {"url": HOOK}})
    before = crm.core_config
    message = ("core config: the stored configuration of plugin 'campaigns' would be refused "
               f"with it: /webhook/url: {PRIVATE} (change that first: crmkit plugins config "
               "campaigns)")
    with pytest.raises(ConfigError) as refused:
        core_webhooks(crm, allowed_networks=[])
    assert (str(refused.value), refused.value.problems) == (message, [("", message)])
    with CRM.open(crm.url) as other:
        assert other.core_config == before
    crm.plugins.configure("campaigns", {**crm.plugin_config("campaigns"), "webhook": {}})
    core_webhooks(crm, allowed_networks=[])
    assert crm.core_config["webhooks"]["allowed_networks"] == []


def test_enabling_again_checks_the_kept_webhook_url_against_the_networks_allowed_now(
        crm, campaigns, slow_resolver):
    """A disabled plugin's kept configuration does not hold up a change of the core
    configuration, so enabling it again checks its webhook.url as new (its host resolved
    again): the allowed networks narrowed meanwhile refuse it, and it stays disabled."""
    from crmkit.plugin import ConfigError

    core_webhooks(crm, allowed_networks=["10.0.0.0/8"])
    slow_resolver("hooks.example.test", address="10.1.2.3")
    campaigns({"webhook": {"url": HOOK}})
    crm.plugins.disable("campaigns")
    core_webhooks(crm, allowed_networks=[])
    with pytest.raises(ConfigError) as refused:
        crm.plugins.enable("campaigns")
    assert refused.value.problems == [("/webhook/url", PRIVATE)]
    assert "campaigns" not in crm.enabled_plugins()
    assert crm.plugins.config("campaigns")["webhook"]["url"] == HOOK


def test_no_writer_waits_while_the_webhook_url_is_checked(tmp_path, clock, slow_resolver):
    """SQLite has one writer at a time: the URL's host name is resolved before the
    configuration's write transaction opens, so while the resolver keeps the check waiting
    another writer (a customer added) completes; the configuration is stored once it answers."""
    with slowly_checked_campaigns(tmp_path / "crm.db", clock) as crm:
        before = crm.plugin_config("campaigns")
        stored = slow_resolver("hooks.example.test").while_held(
            lambda: crm.plugins.configure("campaigns", {**before, "webhook": {"url": HOOK}}),
            lambda: writes_while_checking(crm))
        assert stored["webhook"]["url"] == HOOK
        assert crm.plugins.config("campaigns")["webhook"]["url"] == HOOK
        assert crm.customers.get("C1").name == "Ada"


def test_networks_narrowed_while_the_url_is_checked_are_checked_against(crm, campaigns,
                                                                      slow_resolver):
    """What is stored was checked against the core config as it is when it is written: the
    allowed networks narrowed while the URL's host name was being resolved, the URL is
    checked again against them, and refused; the configuration stays as it was."""
    from crmkit.plugin import ConfigError

    core_webhooks(crm, timeout_seconds=300, allowed_networks=["10.0.0.0/8"])
    campaigns()
    before = crm.plugin_config("campaigns")
    with pytest.raises(ConfigError) as refused:
        slow_resolver("hooks.example.test", address="10.1.2.3").while_held(
            lambda: crm.plugins.configure("campaigns", {**before, "webhook": {"url": HOOK}}),
            lambda: core_webhooks(crm, allowed_networks=[]))
    detail = ("'hooks.example.test' resolves to 10.1.2.3, a private address: webhooks may "
              "target it only when core config webhooks.allowed_networks lists it (now: none)")
    assert refused.value.problems == [("/webhook/url", detail)]
    assert crm.plugins.config("campaigns") == before
