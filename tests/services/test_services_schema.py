"""The attributes schema (core config + a vendor's extension) is enforced by import, API and CLI."""

from __future__ import annotations

import pytest
import schemavendor

from crmkit import CRM
from crmkit.errors import ValidationError
from crmkit.services.importing import ImportRejected, import_file


@pytest.fixture
def vendor(crm_url, clock):
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"schemavendor": schemavendor}) as crm:
        crm.plugins.enable("schemavendor")
        yield crm


def test_api_enforces_type_enum_and_required(vendor):
    vendor.customers.add("C1", attributes={"segment": "retail", "score": 3})
    with pytest.raises(ValidationError, match=r"/segment: 'vip' is not one of .*"
                                              r"\(allowed: \"retail\", \"wholesale\"\)"):
        vendor.customers.add("C2", attributes={"segment": "vip"})
    with pytest.raises(ValidationError, match="'segment' is a required property"):
        vendor.customers.add("C3", attributes={"score": 1})
    with pytest.raises(ValidationError, match=r"/score: 'high' is not of type 'integer'"):
        vendor.customers.update("C1", attributes={"score": "high"})
    assert vendor.customers.count() == 1


def test_import_enforces_the_schema_per_line(vendor, tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("external_id,name,attr.segment,attr.score\n"
                    "C1,Ann,retail,4\n"
                    "C2,Bob,vip,1\n"
                    "C3,Cy,,2\n"
                    "C4,Di,wholesale,-1\n"
                    "C5,Ed,wholesale,\n")
    with pytest.raises(ImportRejected) as caught:
        import_file(vendor, "customers", str(path))
    problems = caught.value.report.problems
    assert [(p[0], p[1]) for p in problems] == [("line 3", "attributes"), ("line 4", "attributes"),
                                                ("line 5", "attributes")]
    assert "/segment: 'vip' is not one of" in problems[0][2]
    assert "'segment' is a required property" in problems[1][2]
    assert "/score: -1 is less than the minimum of 0" in problems[2][2]
    assert vendor.customers.count() == 0
    report = import_file(vendor, "customers", str(path), skip_invalid=True)
    assert (report.created, report.rejected) == (2, 3)
    assert vendor.customers.get("C1").attributes == {"segment": "retail", "score": 4}


def test_core_config_schema_changes_what_is_accepted(vendor):
    vendor.plugins.configure_core({"customer_attributes": {
        "type": "object", "properties": {"city": {"type": "string", "maxLength": 3}}}})
    with pytest.raises(ValidationError, match=r"/city: 'London' is too long"):
        vendor.customers.add("C1", attributes={"segment": "retail", "city": "London"})
    vendor.customers.add("C1", attributes={"segment": "retail", "city": "Ely"})


def test_cli_enforces_the_schema(vendor, run_cli, tmp_path):
    plugin = ("schemavendor",)
    code, _, err = run_cli("customers", "add", "C1", "--attr", "segment=vip", plugins=plugin)
    assert code == 1 and "/segment: 'vip' is not one of" in err and err.count("\n") == 1
    code, _, err = run_cli("customers", "add", "C1", "--attr", "segment=retail",
                           "--attr", "score=7", plugins=plugin)
    assert code == 0, err
    path = tmp_path / "c.jsonl"
    path.write_text('{"external_id": "C2", "attributes": {"segment": "retail", "score": "x"}}\n')
    code, out, err = run_cli("import", "customers", str(path), plugins=plugin)
    assert code == 1
    assert "line 1: attributes: /score: 'x' is not of type 'integer'" in err
    assert out.strip() == "read 1, created 0, updated 0, unchanged 0, rejected 1"
