"""valuechain's commands through the real ``crmkit`` entry point."""

from __future__ import annotations

import json
import sys
import types

import pytest

import valuechain_support


@pytest.fixture
def cli(vcrm, crm_url, cli_runner):
    from crmkit.cli import main

    module = types.ModuleType("valuechain_stand_in_analytical")
    module.__dict__.update(valuechain_support.stand_in_module().__dict__)
    sys.modules["valuechain_stand_in_analytical"] = module

    class Main:
        name = "crmkit"

        def main(self, args=None, prog_name=None, **extra):
            raise SystemExit(main(list(args)))

    def run(*args):
        result = cli_runner.invoke(Main(), ["--db", crm_url, "--plugin",
                                            "valuechain_stand_in_analytical", *args],
                                   catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    return run


def test_cli_round_trip(vcrm, cli):
    vcrm.customers.add_many([{"external_id": "A", "name": "Acme", "attributes": {"test_clv": 50}},
                             {"external_id": "B", "name": "Bolt", "attributes": {"test_clv": 90}}])
    code, out, _ = cli("valuechain", "suggest", "--top-share", "1", "--format", "csv")
    assert out.splitlines() == ["rank,customer,name,clv,marked", "1,B,Bolt,90.00,no",
                                "2,A,Acme,50.00,no"]
    assert cli("valuechain", "ssc", "mark", "B", "--reason", "high_value")[0] == 0
    code, _, err = cli("valuechain", "complete", "3")
    assert code == 1
    assert err.strip() == ("error: cannot complete stage 3 (network development): "
                           "stage 2 (customer intimacy) is not complete "
                           "(the chain is open from stage 1 (customer portfolio analysis))")
    code, out, _ = cli("valuechain", "complete", "portfolio")
    assert (code, out.strip()) == (0, "stage 1 complete: 1 SSC(s) marked (1 high_value); "
                                      "at least 1 needed")
    assert cli("valuechain", "rate", "processes", "2")[0] == 0
    assert cli("valuechain", "rate", "people", "4")[0] == 0
    code, out, _ = cli("valuechain", "report", "--format", "json")
    report = json.loads(out)
    assert report["blocking_stage"]["stage"] == 2
    assert report["blocking_stage"]["reason"].startswith("SSC profile completeness 0.25 is below")
    assert report["weakest_condition"] == {"condition": "processes", "rating": 2}
    code, _, err = cli("valuechain", "rate", "people", "9")
    assert code == 2 and "9 is not in the range 1<=x<=5" in err
