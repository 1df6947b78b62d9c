"""Mounting a plugin's click group as ``crmkit <plugin>``, imported only when invoked."""

from __future__ import annotations

import click


def plugin_group(name: str, module=None) -> click.Command:
    """The plugin's own group (``crmkit_cli`` hook), or a command explaining why there is none.

    ``module`` is a local plugin module (``--plugin``); otherwise the entry point is loaded.
    """
    from .. import plugins

    if module is not None:
        installed = plugins.InstalledPlugin(name, module.__name__, "local", module=module)
    else:
        installed = plugins.discover()[name]
    plugins.load(installed)
    if installed.broken:
        return _explain(name, f"plugin {name!r} is broken: {installed.error}")
    pm = plugins.new_manager()
    plugins.register(pm, installed)
    if installed.broken:
        return _explain(name, f"plugin {name!r} is broken: {installed.error}")
    group = plugins.HookCaller(pm, [name]).call_one(name, "crmkit_cli", None)
    if group is None:
        return _explain(name, f"plugin {name!r} has no commands")
    return group


def _explain(name: str, message: str) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True},
                   help=message)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def broken(args) -> None:
        from ..errors import PluginError

        raise PluginError(message)

    return broken
