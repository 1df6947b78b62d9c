"""Core modules use each other's public methods only; reads get a read context, never a
write transaction."""

from __future__ import annotations

import ast
import datetime as dt
import types
from pathlib import Path

import pytest

import crmkit
from crmkit import CRM, hookimpl, tables
from crmkit.errors import PluginError
from crmkit.transaction import ReadContext, Transaction

CORE = Path(crmkit.__file__).parent
T0 = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)


def private_crm_reads(source: str, where: str) -> list[str]:
    """``crm._x`` / ``self.crm._x`` reads in ``source`` (``where:line``)."""
    found = []
    for node in ast.walk(ast.parse(source, where)):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
        if name == "crm":
            found.append(f"{where}:{node.lineno}: crm.{node.attr}")
    return found


def test_the_check_finds_a_private_read():
    assert private_crm_reads("x = self.crm._state\ny = crm._core_config\nz = crm.plugin\n",
                             "m.py") == ["m.py:1: crm._state", "m.py:2: crm._core_config"]


def test_no_core_module_reads_the_crms_private_state():
    found = []
    for path in sorted(CORE.rglob("*.py")):
        if path.name == "app.py" and path.parent == CORE:
            continue  # the CRM's own module
        found += private_crm_reads(path.read_text(encoding="utf-8"), str(path.relative_to(CORE)))
    assert found == []


def emitting_plugin() -> types.ModuleType:
    module = types.ModuleType("plugin_noisy")
    module.PLUGIN = crmkit.PluginInfo(name="noisy", description="emits while validating")

    @hookimpl
    def crmkit_validate_interactions(ctx, rows):
        assert isinstance(ctx.tx, ReadContext)
        ctx.emit("noisy.seen", None, {"rows": len(rows)})

    module.crmkit_validate_interactions = crmkit_validate_interactions
    return module


def test_a_check_runs_hooks_in_a_read_context_that_refuses_writes(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"noisy": emitting_plugin()}) as crm:
        crm.plugins.enable("noisy")
        crm.customers.add("C1")
        seen = []
        original = ReadContext.__init__

        def spy(self, *args, **kwargs):
            seen.append(type(self))
            original(self, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ReadContext, "__init__", spy)
            with pytest.raises(PluginError, match=r"^plugin 'noisy' emitted 'noisy.seen' while "
                                                  r"only reading \(a check, a preview or the "
                                                  r"timeline\)"):
                crm.interactions.check([{"customer": "C1", "occurred_at": T0}], ["row 1"])
            crm.customers.timeline("C1")
        assert seen == [ReadContext, ReadContext]  # never a Transaction
        with crm.read() as conn:
            assert conn.execute(tables.events.select()
                                .where(tables.events.c.type == "noisy.seen")).all() == []


def test_the_plugin_state_is_public(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True) as crm:
        before = crm.plugins_revision
        crm.plugins.enable("analytical")
        states = crm.plugin_states()
        assert states["analytical"]["enabled"] is True
        assert crm.plugins_revision != before
        states["analytical"]["enabled"] = False  # a copy: the CRM's state is unchanged
        assert crm.plugin_states()["analytical"]["enabled"] is True
        assert issubclass(Transaction, ReadContext)
