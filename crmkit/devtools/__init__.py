"""Developer tooling, kept out of the runtime core (only `crmkit plugins new` and `check` load it).

* :mod:`crmkit.devtools.plugin_check` — ``crmkit plugins check``, what a vendor
  verifies before releasing a plugin.
* :mod:`crmkit.devtools.scaffold` — ``crmkit plugins new``, renders ``plugin_template/``.
* :mod:`crmkit.devtools.docgen` — ``python -m crmkit.devtools.docgen``, the
  generated reference in ``docs/reference/``.
* :mod:`crmkit.devtools.testing` — the pytest plugin (fixtures ``crm``,
  ``crm_url``, ``clock``), loaded automatically through the ``pytest11`` entry point.
"""
