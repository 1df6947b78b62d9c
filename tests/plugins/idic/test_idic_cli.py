"""idic's commands, driven through the real ``crmkit`` entry point."""

from __future__ import annotations

import datetime as dt
import json

import pytest

UTC = dt.timezone.utc
NOW = dt.datetime(2025, 1, 1, 12, tzinfo=UTC)


@pytest.fixture
def cli(icrm, crm_url, cli_runner):
    """Run ``crmkit --db URL --plugin stand_in ARGS``: the stand-in analytical API is local."""
    from crmkit.cli import main

    import idic_support

    def run(*args, input=None):
        import sys
        import types

        module = types.ModuleType("idic_stand_in_analytical")
        module.__dict__.update(idic_support.stand_in_module().__dict__)
        sys.modules["idic_stand_in_analytical"] = module
        result = cli_runner.invoke(_Main(main), ["--db", crm_url, "--plugin",
                                                 "idic_stand_in_analytical", *args],
                                   input=input, catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


class _Main:
    name = "crmkit"

    def __init__(self, main):
        self._main = main

    def main(self, args=None, prog_name=None, **extra):
        raise SystemExit(self._main(list(args)))


def test_duplicates_differentiate_treatments_uplift_report(icrm, cli):
    icrm.customers.add_many([
        {"external_id": "A", "name": "Jo Smith", "email": "JO@x.com", "attributes": {"test_clv": 500}},
        {"external_id": "B", "name": "Joanne Smith", "email": "jo@x.com"},
        {"external_id": "C", "name": "Priya Sharma", "phone": "+44 20 7946 0018"},
        {"external_id": "D", "name": "Priya Sharma", "phone": "020 7946 0018 (GB)"},
    ])
    code, out, _ = cli("idic", "duplicates", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [(r["keep"], r["duplicate"]) for r in listed] == [("A", "B"), ("C", "D")]
    assert listed[1]["reasons"].startswith("same phone +442079460018")
    code, out, _ = cli("idic", "differentiate", "--as-of", "2025-01-02", "--format", "csv")
    assert code == 0
    assert out.splitlines()[:3] == ["kind,group,customers", "value,MVC,1", "value,MGC,0"]
    code, out, _ = cli("idic", "treatments", "add", "vip", "--group", "MVC", "--type", "offer",
                       "--detail", "free gift", "--holdout", "0", "--start", "2025-01-02")
    assert (code, out.strip()) == (0, "treatment vip: 1 treated, 0 held out")
    code, out, _ = cli("idic", "uplift", "vip", "--metric", "purchases", "--as-of", "2025-02-01",
                       "--format", "json")
    assert code == 0 and json.loads(out)["treated"] == 1
    code, out, _ = cli("idic", "report", "--as-of", "2025-01-02", "--format", "json")
    report = json.loads(out)
    assert report["progress"]["steps"]["differentiated"] == 4
    assert report["differentiate"]["value_groups"]["MVC"] == 1
    code, out, _ = cli("idic", "progress", "A", "--as-of", "2025-01-02", "--format", "csv")
    assert out.splitlines()[1] == "A,Jo Smith,yes,yes,no,yes,3"
    code, out, _ = cli("idic", "merge", "A", "B")
    assert (code, out.strip()) == (0, "merged B into A")
    code, out, _ = cli("idic", "duplicates", "--format", "csv")
    assert out.splitlines()[1:] and out.splitlines()[1].startswith("C,D,")


def test_errors_are_one_line_and_non_zero(icrm, cli):
    code, _, err = cli("idic", "treatments", "add", "x", "--group", "nobody", "--type", "offer",
                       "--detail", "d")
    assert code == 1
    assert err.strip() == ("error: treatment group: 'nobody' is not a group "
                           "(allowed: MVC, MGC, BZ, maintain)")
    code, _, err = cli("idic", "due", "--as-of", "2025-01-01")
    assert code == 1 and "run `crmkit idic differentiate`" in err
