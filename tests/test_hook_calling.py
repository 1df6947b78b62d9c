"""Hooks are called through pluggy: its options work, the enabled filter and the error wrapping
that names the plugin stay, and ``CRMKIT_TRACE_HOOKS=1`` traces every call."""

from __future__ import annotations

import types

import pytest

import crmkit
from crmkit import CRM, hookimpl
from crmkit.errors import PluginError
from crmkit.plugin import EventType


def plugin_module(name: str, requires: tuple[str, ...] = (), **hooks) -> types.ModuleType:
    """A throwaway plugin whose hooks are given already decorated (``hookimpl(...)``)."""
    module = types.ModuleType(f"plugin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"{name} test plugin",
                                      requires=requires)
    for hook, function in hooks.items():
        setattr(module, hook, function)
    return module


def recorder(calls: list[str], name: str):
    return lambda batch: calls.append(name)


def open_with(crm_url, clock, **plugins):
    return CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins)


def test_a_tryfirst_implementation_runs_before_the_dependency_order(crm_url, clock):
    calls: list[str] = []
    plugins = {
        "base": plugin_module("base", crmkit_react_customers=hookimpl(recorder(calls, "base"))),
        "eager": plugin_module("eager", requires=("base",), crmkit_react_customers=hookimpl(
            tryfirst=True)(recorder(calls, "eager"))),
        "late": plugin_module("late", requires=("base",),
                              crmkit_react_customers=hookimpl(recorder(calls, "late"))),
    }
    with open_with(crm_url, clock, **plugins) as crm:
        for name in ("base", "eager", "late"):
            crm.plugins.enable(name)
        crm.customers.add("C1")
    assert calls == ["eager", "base", "late"]


def test_a_hookwrapper_wraps_the_other_implementations_with_its_own_context(crm_url, clock):
    calls: list[str] = []

    @hookimpl(wrapper=True)
    def crmkit_react_customers(ctx, batch):
        calls.append(f"before {ctx.plugin} {len(batch.rows)}")
        result = yield
        calls.append(f"after {result}")
        return result

    plugins = {
        "inner": plugin_module("inner", crmkit_react_customers=hookimpl(recorder(calls, "inner"))),
        "outer": plugin_module("outer", crmkit_react_customers=crmkit_react_customers),
    }
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("inner")
        crm.plugins.enable("outer")
        crm.customers.add("C1")
    assert calls == ["before outer 1", "inner", "after []"]


def test_a_disabled_plugins_implementation_is_not_called(crm_url, clock):
    calls: list[str] = []
    plugins = {name: plugin_module(name, crmkit_react_customers=hookimpl(recorder(calls, name)))
               for name in ("on", "off")}
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("on")
        crm.plugins.enable("off")
        crm.plugins.disable("off")
        crm.customers.add("C1")
        assert crm.hooks.call("crmkit_event_types", None) == []
    assert calls == ["on"]


def test_a_raising_implementation_is_reported_with_its_plugins_name(crm_url, clock):
    def kaput(batch):
        raise KeyError("segment")

    plugins = {
        "fine": plugin_module("fine", crmkit_react_customers=hookimpl(lambda batch: None)),
        "faulty": plugin_module("faulty", crmkit_react_customers=hookimpl(tryfirst=True)(kaput)),
    }
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("fine")
        crm.plugins.enable("faulty")
        with pytest.raises(PluginError, match=r"^plugin 'faulty' failed in "
                                              r"crmkit_react_customers: KeyError: 'segment'$"):
            crm.customers.add("C1")
        assert crm.customers.list() == []


def test_call_reports_each_plugins_result_in_calling_order(crm_url, clock):
    plugins = {
        "quiet": plugin_module("quiet", crmkit_event_types=hookimpl(lambda: None)),
        "loud": plugin_module("loud", crmkit_event_types=hookimpl(tryfirst=True)(
            lambda: {"loud.said": "it spoke"})),
    }
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("quiet")
        crm.plugins.enable("loud")
        assert crm.hooks.call("crmkit_event_types", None) == [
            ("loud", {"loud.said": "it spoke"}), ("quiet", None)]
        assert crm.hooks.call_one("loud", "crmkit_event_types", None) == {"loud.said": "it spoke"}
        assert crm.hooks.call_one("quiet", "crmkit_sweep", None, prepared=None) is None


def test_event_types_declare_personal_payload_keys_and_a_malformed_one_names_its_plugin(
        crm_url, clock):
    declared = {"kept.noted": "a note was kept",
                "kept.called": EventType("a customer was called (payload: phone, minutes)",
                                         personal="phone")}
    plugins = {"kept": plugin_module("kept", crmkit_event_types=hookimpl(lambda: declared)),
               "odd": plugin_module("odd", crmkit_event_types=hookimpl(
                   lambda: {"odd.done": EventType("it was done", personal=["who", ""])}))}
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("kept")
        assert crm.events.types()["kept.called"] == declared["kept.called"].description
        assert crm.events.declared()["kept.called"].personal == ("phone",)
        assert crm.events.declared()["kept.noted"] == EventType("a note was kept")
        assert crm.events.declared()["message.bounced"].personal == ("error",)
        crm.plugins.enable("odd")
        with pytest.raises(PluginError, match=r"plugin 'odd': crmkit_event_types declares "
                                              r"'odd.done': .*; each event type must map to a "
                                              r"one-line description, or to crmkit.plugin."
                                              r"EventType\(description, personal=\[payload "
                                              r"keys\]\)"):
            crm.events.types()


def test_trace_hooks_prints_each_call_to_stderr(crm_url, clock, monkeypatch, capfd):
    monkeypatch.setenv("CRMKIT_TRACE_HOOKS", "1")
    plugins = {"traced": plugin_module("traced", crmkit_event_types=hookimpl(
        lambda: {"traced.done": "traced"}))}
    with open_with(crm_url, clock, **plugins) as crm:
        crm.plugins.enable("traced")
        capfd.readouterr()
        crm.hooks.call("crmkit_event_types", None)
    err = capfd.readouterr().err
    assert "crmkit_event_types:\n" in err
    assert "Hook implementations:\n" in err
    assert "plugin_name='traced'" in err
    assert "Results:\n[{'traced.done': 'traced'}]" in err


def test_no_trace_without_the_variable(crm_url, clock, monkeypatch, capfd):
    monkeypatch.delenv("CRMKIT_TRACE_HOOKS", raising=False)
    with open_with(crm_url, clock) as crm:
        capfd.readouterr()
        crm.hooks.call("crmkit_event_types", None)
        crm.customers.add("C1")
    assert capfd.readouterr().err == ""
