"""What every plugin's API object and settings share: the CRM, the stored configuration and
typed settings built once per configuration."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

S = TypeVar("S")

_BUILT: dict[type, tuple[dict[str, Any], Any]] = {}
"""Per settings class, the configuration object it was last built from and the settings."""


def typed_settings(settings_class: type[S], config: dict[str, Any]) -> S:
    """``settings_class.from_config(config)``, built once per stored configuration.

    A plugin's configuration is one object from its validation until it is changed
    (``crm.plugin_config``, ``ctx.config``); the settings built from it are kept
    and given again for the same object, and built anew for a changed one.
    """
    built = _BUILT.get(settings_class)
    if built is None or built[0] is not config:
        built = _BUILT[settings_class] = (config, settings_class.from_config(config))
    return built[1]


class PluginAPI:
    """The base of a plugin's API class (``crm.plugin(NAME)``): the CRM, the plugin's stored
    configuration and its typed settings."""

    plugin: ClassVar[str]
    """The plugin's name."""
    settings_class: ClassVar[type | None] = None
    """The plugin's frozen settings class (with ``from_config(config)``), if it has one."""

    def __init__(self, crm):
        self.crm = crm

    @property
    def config(self) -> dict[str, Any]:
        """The plugin's stored, validated configuration (``{}`` while it is disabled)."""
        return self.crm.plugin_config(self.plugin)

    @property
    def settings(self) -> Any:
        """The typed settings of the current configuration (:func:`typed_settings`)."""
        if self.settings_class is None:
            raise AttributeError(f"plugin {self.plugin!r} declares no settings class")
        return typed_settings(self.settings_class, self.config)


__all__ = ["PluginAPI", "typed_settings"]
