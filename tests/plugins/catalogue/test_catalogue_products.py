"""Products: import from CSV with the customer-import error rules, list, show."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from crmkit.devtools.testing import assert_keeps_max_field_length
from crmkit.plugin import NotFound, ValidationError

HEADER = "sku,name,category,list_price,unit_cost,active_from,active_to\n"


def _write(tmp_path, text: str):
    path = tmp_path / "products.csv"
    path.write_text(HEADER + text, encoding="utf-8")
    return str(path)


def test_import_creates_updates_and_reads_back(crm, tmp_path):
    crm.plugins.enable("catalogue")
    api = crm.plugin("catalogue")
    path = _write(tmp_path, "TEA-1,Green tea, drinks / tea ,4.50,1.50,2025-01-01,\n"
                            "MUG-1,Mug,kitchen,8,3,,2025-06-01\n")
    report = api.import_products(path)
    assert report.summary() == "read 2, created 2, updated 0, unchanged 0, rejected 0"
    tea = api.product("TEA-1")
    assert (tea.name, tea.category, tea.list_price, tea.unit_cost) == (
        "Green tea", "drinks/tea", Decimal("4.5"), Decimal("1.5"))
    assert tea.active_from == dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    assert api.import_products(path).summary() == ("read 2, created 0, updated 0, "
                                                   "unchanged 2, rejected 0")
    path = _write(tmp_path, "TEA-1,Green tea,drinks/tea,4.90,1.50,2025-01-01,\n")
    assert api.import_products(path).updated == 1
    assert api.product("TEA-1").list_price == Decimal("4.9")
    assert [p.sku for p in api.products(category="drinks")] == ["TEA-1"]
    assert [p.sku for p in api.products(active_at=dt.datetime(2025, 7, 1,
                                                               tzinfo=dt.timezone.utc))] == ["TEA-1"]
    with pytest.raises(NotFound, match="product 'NOPE' not found"):
        api.product("NOPE")


def test_a_negative_cost_rejects_the_file_and_writes_nothing(crm, tmp_path):
    crm.plugins.enable("catalogue")
    api = crm.plugin("catalogue")
    path = _write(tmp_path, "TEA-1,Green tea,drinks/tea,4.50,1.50,,\n"
                            "MUG-1,Mug,kitchen,8,-3,,\n")
    with pytest.raises(ValidationError) as caught:
        api.import_products(path)
    assert caught.value.problems == [("line 3", "unit_cost", "-3: must be ≥ 0")]
    assert "1 bad row(s), nothing written" in str(caught.value)
    assert api.products() == []
    report = api.import_products(path, skip_invalid=True)
    assert report.summary() == "read 2, created 1, updated 0, unchanged 0, rejected 1"
    assert [p.sku for p in api.products()] == ["TEA-1"]


@pytest.mark.parametrize("row, field, message", [
    (",Tea,drinks,1,1,,", "sku", "required"),
    ("T,Tea,drinks//x,1,1,,", "category", "every part of the path must be non-empty"),
    ("T,Tea,drinks,abc,1,,", "list_price", "'abc' is not a number"),
    ("T,Tea,drinks,-1,1,,", "list_price", "-1: must be ≥ 0"),
    ("T,Tea,drinks,1,1,2025-02-01,2025-01-01", "active_to", "must be after active_from"),
    ("T,Tea,drinks,1,1,2025-13-01,", "active_from", "is not an ISO 8601 date"),
])
def test_each_bad_row_is_named_by_line_and_field(crm, tmp_path, row, field, message):
    crm.plugins.enable("catalogue")
    with pytest.raises(ValidationError) as caught:
        crm.plugin("catalogue").import_products(_write(tmp_path, row + "\n"))
    [(where, got_field, got)] = caught.value.problems
    assert (where, got_field) == ("line 2", field) and message in got


def test_commands(crm, run_cli, tmp_path):
    crm.plugins.enable("catalogue")
    bad = _write(tmp_path, "MUG-1,Mug,kitchen,8,-3,,\n")
    code, out, err = run_cli("catalogue", "import", bad)
    assert code != 0 and "Traceback" not in err
    assert err.splitlines() == ["line 2: unit_cost: -3: must be ≥ 0",
                                "error: 1 bad row(s), nothing written: fix the rows above, "
                                "or use --skip-invalid to write the good rows"]
    good = _write(tmp_path, "MUG-1,Mug,kitchen,8,3,,\n")
    assert run_cli("catalogue", "import", good)[1] == ("read 1, created 1, updated 0, "
                                                       "unchanged 0, rejected 0\n")
    code, out, _ = run_cli("catalogue", "list", "--format", "json")
    assert json.loads(out) == [{"sku": "MUG-1", "name": "Mug", "category": "kitchen",
                                "list_price": "8.0000", "unit_cost": "3.0000",
                                "active_from": None, "active_to": None}]
    code, out, _ = run_cli("catalogue", "show", "MUG-1", "--format", "json")
    assert json.loads(out)["unit_cost"] == "3.0000"
    code, _, err = run_cli("catalogue", "show", "NOPE")
    assert code != 0 and err.startswith("error: product 'NOPE' not found")


@pytest.mark.parametrize("field", ["sku", "name", "category"])
def test_product_texts_keep_the_core_max_field_length(crm, field):
    crm.plugins.enable("catalogue")
    api = crm.plugin("catalogue")
    row = {"sku": "TEA-1", "name": "Tea", "category": "drinks", "list_price": "4",
           "unit_cost": "1"}
    assert_keeps_max_field_length(
        crm, f"row 1: {field}", lambda text: api.add_products([dict(row, **{field: text})]),
        api.products)
