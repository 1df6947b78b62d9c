"""A plugin's API base: its configuration and typed settings built once per configuration."""

from __future__ import annotations

import attrs

from crmkit.plugin import PluginAPI, typed_settings


@attrs.frozen
class Counted:
    limit: int

    built = []

    @classmethod
    def from_config(cls, config):
        cls.built.append(config)
        return cls(config["limit"])


def test_typed_settings_are_built_once_per_configuration_object():
    Counted.built.clear()
    first, second = {"limit": 1}, {"limit": 1}
    assert typed_settings(Counted, first) is typed_settings(Counted, first)
    assert typed_settings(Counted, second) == Counted(1)
    assert Counted.built == [first, second]            # an equal but new object: built again


def test_a_plugin_api_gives_its_config_and_settings_until_the_config_changes(crm):
    crm.plugins.enable("loyalty")
    api = crm.plugin("loyalty")
    assert isinstance(api, PluginAPI) and api.plugin == "loyalty"
    settings = api.settings
    assert api.settings is settings
    crm.plugins.configure("loyalty", {"lock_days": settings.lock_days + 3})
    assert api.config["lock_days"] == settings.lock_days + 3
    assert api.settings.lock_days == settings.lock_days + 3
