"""The dashboards page over HTTP (the app in-process, on SQLite and PostgreSQL): each built-in
panel's numbers on small hand-built data, its CSV, its SVG, escaping and permissions."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import xml.etree.ElementTree as ET

import pytest

import crmkit_paneltest
from crmkit import CRM
from crmkit.plugin import UTC
from crmkit.web.panels import PANEL_FAILED
from web_support import InProcess, PASSWORD, sign_in, without_csrf_tokens

SCRIPT = "<script>alert(1)</script>"
SVG = "{http://www.w3.org/2000/svg}"


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=UTC)


PURCHASES = {"A": [("2024-10-05", "100"), ("2024-11-10", "50"), ("2024-12-15", "50")],
             "B": [("2024-10-20", "200")],
             "C": [("2024-11-03", "30"), ("2024-12-01", "30")],
             "D": [("2024-12-24", "20")]}
SURVEYS = [("A", "2024-11-05", {"nps": 10, "csat": 5}), ("B", "2024-11-20", {"nps": 6, "csat": 3}),
           ("C", "2024-12-05", {"nps": 9, "csat": 4}), ("D", "2024-12-10", {"nps": 8})]
KPIS = [{"name": SCRIPT, "metric": "revenue", "target": 1000, "period": "quarter",
         "deadline": "2024-12-31"},
        {"name": "NPS", "metric": "nps", "target": 20, "period": "quarter",
         "deadline": "2024-12-31"}]


@pytest.fixture
def site(crm_url, clock):
    """Four customers with purchases, surveys, leads and opportunities in late 2024 (the
    clock moved to each moment), viewed at the clock's 2025-01-01 12:00; the plugin
    paneltest's panels fail.  Members: ann (manager) and sam (a seller: no analytical)."""
    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"paneltest": crmkit_paneltest}) as crm:
        api = InProcess(crm)
        try:
            build(crm, clock, api)
            yield api
        finally:
            api.close()


def build(crm, clock, api) -> None:
    now = clock.now()
    crm.plugins.configure_core({**crm.core_config, "roles": {
        **crm.core_config["roles"],
        "seller": ["customers.read", "operational.read", "loyalty.read"]}})
    for name in ("operational", "analytical", "loyalty", "paneltest"):
        crm.plugins.enable(name)
    crm.plugins.configure("analytical", {**crm.plugin_config("analytical"), "kpis": KPIS})
    crm.plugins.configure("loyalty", {**crm.plugin_config("loyalty"), "tiers": []})
    clock.set(at("2024-09-01"))
    for external_id in PURCHASES:
        crm.customers.add(external_id, f"Customer {external_id}")
    for external_id, bought in PURCHASES.items():
        for day, amount in bought:
            clock.set(at(day))
            crm.interactions.record(external_id, clock.now(), kind="purchase", amount=amount)
    for external_id, day, payload in SURVEYS:
        clock.set(at(day))
        crm.interactions.record(external_id, clock.now(), kind="survey", payload=payload)
    ops = crm.plugin("operational")
    clock.set(at("2024-10-01"))
    for stage in ("mql", "sal", "sql"):
        ops.set_lead_stage("A", stage)
    ops.set_lead_stage("B", "mql")
    ops.set_lead_stage("C", "disqualified")
    clock.set(at("2024-11-01"))
    won = ops.create_opportunity("A", "Big deal", "500")
    ops.move_opportunity(won, "won")
    lost = ops.create_opportunity("B", "Small deal", "50")
    ops.move_opportunity(lost, "lost")
    clock.set(now)
    for handle, role in (("ann", "manager"), ("sam", "seller")):
        api.token(handle, role)
        crm.staff.set_password(handle, PASSWORD)


def sections(page: str) -> dict[str, str]:
    """Each panel's <section> of the page, by panel name."""
    return {m.group(1): m.group(0) for m in re.finditer(
        r'<section class="panel" data-panel="([^"]+)".*?</section>', page, re.S)}


def table_rows(section: str) -> list[list[str]]:
    """The panel's table (header first) as the texts of its cells."""
    table = ET.fromstring(re.search(r"<table.*?</table>", section, re.S).group(0))
    return [[(cell.text or "") for cell in row] for row in table.iter("tr")]


def as_numbers(rows: list[list[str]]) -> list[list]:
    """The cells with numbers as floats: the table writes them the locale's way (``1,234``,
    ``50`` for 50.0), the CSV as stored."""
    def value(cell: str):
        try:
            return float(cell.replace(",", ""))
        except ValueError:
            return cell
    return [[value(cell) for cell in row] for row in rows]


def svg_of(section: str) -> ET.Element:
    """The panel's chart, parsed as XML (fails when it is not well formed)."""
    return ET.fromstring(re.search(r"<svg.*?</svg>", section, re.S).group(0))


def csv_rows(client, name: str, query: str = "") -> list[list[str]]:
    answer = client.get(f"/dashboards/{name}.csv{query}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"] == f'attachment; filename="{name}.csv"'
    return list(csv.reader(io.StringIO(answer.text)))


EXPECTED = {
    # every customer entered at lead; A and B went on to an opportunity (B's lost, A's won),
    # C was disqualified, D is still a lead
    "operational.funnel": [
        ["Stage", "Reached (customers)", "At this stage now", "Conversion to next (%)"],
        ["lead", "4", "1", "50.0"], ["mql", "2", "0", "100.0"], ["sal", "2", "0", "100.0"],
        ["sql", "2", "2", "100.0"], ["qualification", "2", "0", "50.0"],
        ["needs_analysis", "1", "0", "100.0"], ["proposal", "1", "0", "100.0"],
        ["negotiation", "1", "0", "100.0"], ["commit", "1", "0", "100.0"],
        ["won", "1", "1", ""]],
    # Q4 2024 to the deadline: revenue 480 of 1000; NPS (2 promoters − 1 detractor) / 4 = 25
    "analytical.kpis": [
        ["KPI", "Attainment (%)", "Value", "Target", "Status", "Period"],
        [SCRIPT, "48.0", "480.0", "1000", "missed", "quarter"],
        ["NPS", "125.0", "25.0", "20", "met", "quarter"]],
    # 2024-10: A and B, A buys again in Nov and Dec; 2024-11: C, again in Dec; 2024-12: D
    "analytical.cohort-retention": [
        ["Cohort", "Customers", "Month 0", "Month 1", "Month 2", "Month 3", "Month 4",
         "Month 5", "Month 6"],
        ["2024-10", "2", "100.0", "50.0", "50.0", "0.0", "", "", ""],
        ["2024-11", "1", "100.0", "100.0", "0.0", "", "", "", ""],
        ["2024-12", "1", "100.0", "0.0", "", "", "", "", ""]],
    # recency A 17, B 73, C 31, D 8 days -> R 3, 1, 2, 5; purchases 3, 1, 2, 1 -> F 5, 1, 3, 1
    "analytical.rfm-grid": [
        ["Recency score", "F1", "F2", "F3", "F4", "F5"],
        ["R5", "1", "0", "0", "0", "0"], ["R4", "0", "0", "0", "0", "0"],
        ["R3", "0", "0", "0", "0", "1"], ["R2", "0", "0", "1", "0", "0"],
        ["R1", "1", "0", "0", "0", "0"]],
    # spend 200, 200, 60, 20 of 480: cumulative 41.7, 83.3, 95.8, 100 %
    "analytical.pareto": [
        ["Customers (%)", "Revenue (%)"], ["0.0", "0.0"], ["25.0", "41.7"], ["50.0", "83.3"],
        ["75.0", "95.8"], ["100.0", "100.0"]],
    # Nov: NPS 10 and 6 -> 0, CSAT 5 and 3 -> 50 %; Dec: NPS 9 and 8 -> 50, CSAT 4 -> 100 %
    "analytical.satisfaction": [
        ["Month", "NPS", "CSAT (%)", "NPS answers", "CSAT answers"],
        ["2024-11", "0.0", "50.0", "2", "2"], ["2024-12", "50.0", "100.0", "2", "1"]],
    # a point per unit spent, lots expire 12 months after they were earned, 0.01 a point
    "loyalty.liability": [
        ["Expires in", "Liability (USD)", "Points", "Members"],
        ["2025-10", "3.00", "300", "2"], ["2025-11", "0.80", "80", "2"],
        ["2025-12", "1.00", "100", "3"]],
}


ORDER = ["analytical.kpis", "analytical.cohort-retention", "analytical.rfm-grid",
         "analytical.pareto", "analytical.satisfaction", "analytical.sales-growth",
         "analytical.relationship-phases", "analytical.engagement",
         "analytical.relationship-quality", "analytical.perceived-value",
         "analytical.customer-equity", "loyalty.liability",
         "operational.funnel", "operational.sales-cycle", "operational.lead-sources",
         "operational.forecast-accuracy"]
"""The panels in plugin order (analytical, loyalty, operational), each plugin's in its order."""


def test_each_panel_shows_its_hand_computed_numbers_in_its_table_csv_and_chart(site):
    client = sign_in(site, "ann")
    page = client.get("/dashboards")
    assert page.status_code == 200
    shown = sections(page.text)
    assert list(shown) == ORDER
    for name, expected in EXPECTED.items():
        assert csv_rows(client, name) == expected, name
        assert as_numbers(table_rows(shown[name])) == as_numbers(expected), name
        assert '<th scope="col">' in shown[name] and "<caption>" in shown[name]
        svg = svg_of(shown[name])
        assert svg.get("role") == "img"
        assert svg.find(f"{SVG}title").text == re.search(r"<h2[^>]*>(.*?)</h2>",
                                                        shown[name]).group(1)
    texts = {name: [t.text for t in svg_of(section).iter(f"{SVG}text")]
             for name, section in shown.items() if name in EXPECTED}
    assert {"lead", "won", "4", "1"} <= set(texts["operational.funnel"])
    assert {SCRIPT, "NPS", "48", "125"} <= set(texts["analytical.kpis"])
    assert {"R5", "R1", "F1", "F5"} <= set(texts["analytical.rfm-grid"])
    assert {"2024-10", "Month 0", "100", "50"} <= set(texts["analytical.cohort-retention"])
    assert {"2024-11", "2024-12", "NPS", "CSAT (%)", "0", "50", "100"} <= set(
        texts["analytical.satisfaction"])
    assert {"2025-10", "3", "0.8", "1"} <= set(texts["loyalty.liability"])
    assert {"Customers (%)", "Revenue (%)", "100 %"} <= set(texts["analytical.pareto"])
    assert ("The top 20 % of 4 customers bring 41.7 % of revenue; 80 % of revenue comes "
            "from 50.0 % of customers.") in shown["analytical.pareto"]
    assert "Closed without winning: 1 lost, 1 disqualified." in shown["operational.funnel"]


def test_a_script_in_a_label_is_text_in_the_chart_the_table_and_the_csv(site):
    client = sign_in(site, "ann")
    page = client.get("/dashboards").text
    assert "<script>alert(1)" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 2  # the chart and the table
    assert csv_rows(client, "analytical.kpis")[1][0] == SCRIPT


def test_a_failing_plugin_shows_its_problem_and_the_others_still_render(site):
    page = sign_in(site, "ann").get("/dashboards").text
    problem = re.search(r'<section class="panel" data-plugin="paneltest".*?</section>', page,
                        re.S).group(0)
    assert html.unescape(problem).count(PANEL_FAILED) == 1
    assert len(sections(page)) == len(ORDER)


def test_as_of_shows_the_panels_as_they_stood_then(site):
    client = sign_in(site, "ann")
    page = client.get("/dashboards?as_of=2024-11-30")
    assert page.status_code == 200
    assert 'value="2024-11-30"' in page.text
    expected = [EXPECTED["analytical.cohort-retention"][0],
                ["2024-10", "2", "100.0", "50.0", "", "", "", "", ""],
                ["2024-11", "1", "100.0", "", "", "", "", "", ""]]
    assert csv_rows(client, "analytical.cohort-retention", "?as_of=2024-11-30") == expected
    table = table_rows(sections(page.text)["analytical.cohort-retention"])
    assert as_numbers(table) == as_numbers(expected)
    assert 'href="/dashboards/analytical.cohort-retention.csv?as_of=2024-11-30"' in page.text
    bad = client.get("/dashboards?as_of=soon")
    assert bad.status_code == 422 and "as_of" in bad.text


def test_a_member_without_analytical_read_sees_no_analytical_panel_nor_its_csv(site):
    client = sign_in(site, "sam")
    page = client.get("/dashboards").text
    assert list(sections(page)) == ["loyalty.liability", "operational.funnel",
                                    "operational.sales-cycle", "operational.lead-sources",
                                    "operational.forecast-accuracy"]
    assert 'data-plugin="analytical"' not in page and 'data-plugin="paneltest"' not in page
    refused = client.get("/dashboards/analytical.rfm-grid.csv")
    assert refused.status_code == 403 and "analytical.read" in refused.text
    assert "R5" not in without_csrf_tokens(refused.text)
    assert client.get("/dashboards/operational.nothing.csv").status_code == 404
    assert client.get("/dashboards/nosuch.funnel.csv").status_code == 404
    assert csv_rows(client, "operational.funnel") == EXPECTED["operational.funnel"]


def test_the_dashboards_need_a_signed_in_member(site):
    client = site.client()
    answer = client.get("/dashboards")
    assert (answer.status_code, answer.headers["location"]) == (
        303, "/login?next=%2Fdashboards")
    assert client.get("/dashboards/operational.funnel.csv").status_code == 303


@pytest.mark.parametrize("arguments, message", [
    ({"name": "Bad Name"}, "Panel.name 'Bad Name' is not a slug"),
    ({"chart": "pie"}, "Panel.chart 'pie' is not one of bar, line, heatmap, funnel, curve, table"),
    ({"y": (2,)}, "Panel 'p.q': column index 2 is outside its 2 columns"),
    ({"rows": [("a",)]}, "Panel 'p.q': row 1 has 1 values, not 2 (one per column)"),
])
def test_a_panel_that_cannot_be_drawn_is_refused_when_made(arguments, message):
    from crmkit.plugin import Panel

    given = {"name": "p.q", "title": "T", "columns": ("a", "b"), "rows": [("x", 1)],
             **arguments}
    with pytest.raises(ValueError, match=re.escape(message)):
        Panel(**given)


def test_the_panels_speak_the_page_s_language(site):
    client = sign_in(site, "ann")
    page = client.get("/dashboards", headers={"Accept-Language": "zh-CN"}).text
    shown = sections(page)
    funnel = shown["operational.funnel"]
    assert "销售漏斗" in funnel and '<th scope="col">阶段</th>' in funnel
    assert "关键绩效指标" in shown["analytical.kpis"]
    assert "按到期月份的积分负债" in shown["loyalty.liability"]
    english = sections(client.get("/dashboards").text)["operational.funnel"]
    assert "Funnel" in english and "销售漏斗" not in english
