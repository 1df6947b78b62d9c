"""crmkit's HTTP API: ``create_app(crm)`` builds the ASGI application ``crmkit serve`` runs.

Endpoints are declared framework-neutrally (:mod:`crmkit.web.endpoints`); the core's
resources and every plugin's ``crmkit_routes`` go through the same dispatcher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .app import create_app


def __getattr__(name: str):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'crmkit.web' has no attribute {name!r}")


__all__ = ["create_app"]
