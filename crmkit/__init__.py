"""crmkit: a pluggable CRM framework.

The public API is re-exported here and imported lazily, so ``crmkit --help``
stays fast::

    import crmkit
    with crmkit.CRM.open("sqlite:///crm.db", create=True) as crm:
        crm.customers.add("C1", "Ada Lovelace")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "hookimpl": "crmkit.markers",
    "hookspec": "crmkit.markers",
    "CRM": "crmkit.app",
    "Customer": "crmkit.models",
    "Interaction": "crmkit.models",
    "Staff": "crmkit.models",
    "Event": "crmkit.models",
    "Batch": "crmkit.models",
    "TimelineEntry": "crmkit.models",
    "WriteResult": "crmkit.models",
    "PluginInfo": "crmkit.models",
    "HookContext": "crmkit.transaction",
    "Transaction": "crmkit.transaction",
    "FixedClock": "crmkit.clock",
    "SystemClock": "crmkit.clock",
    "errors": "crmkit.errors",
    "tables": "crmkit.tables",
}

if TYPE_CHECKING:  # pragma: no cover
    from . import errors, tables
    from .markers import hookimpl, hookspec
    from .app import CRM
    from .clock import FixedClock, SystemClock
    from .models import (Batch, Customer, Event, Interaction, PluginInfo, Staff, TimelineEntry,
                         WriteResult)
    from .transaction import HookContext, Transaction


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'crmkit' has no attribute {name!r}")
    value = importlib.import_module(module)
    return value if name in ("errors", "tables") else getattr(value, name)


__all__ = ["__version__", *_LAZY]
