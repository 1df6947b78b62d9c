"""The dashboards in a real headless Chromium against the served small ``crmkit demo``.

Signs in from the keyboard, opens ``/dashboards``, checks that each chart is an SVG image
with a title and that its labels are the numbers of the table beside it, changes the
``as of`` date, and saves screenshots at desktop and phone width (no sideways scrolling of
the page) under ``browser_support.ARTIFACTS``.  SQLite only (the HTTP-level tests in
test_dashboard_pages.py cover PostgreSQL and the numbers themselves).
"""

from __future__ import annotations

from browser_support import ARTIFACTS, WAIT_SECONDS, to_phone_width, unlabelled_inputs

PANELS = ["analytical.kpis", "analytical.cohort-retention", "analytical.rfm-grid",
          "analytical.pareto", "analytical.satisfaction", "analytical.sales-growth",
          "analytical.relationship-phases", "analytical.engagement",
          "analytical.relationship-quality", "analytical.perceived-value",
          "analytical.customer-equity", "campaigns.results", "loyalty.liability",
          "operational.funnel", "operational.sales-cycle", "operational.lead-sources",
          "operational.forecast-accuracy"]
"""The built-in plugins' panels, in plugin order."""


def test_the_dashboards_draw_each_panel_beside_its_numbers_at_desktop_and_phone_width(
        browser, demo_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    demo_site.member("dash1", "manager")
    demo_site.sign_in(browser, "dash1", "/dashboards")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-panel]")))
    assert [e.get_attribute("data-panel")
            for e in browser.find_elements(By.CSS_SELECTOR, "section[data-panel]")] == PANELS

    grid = browser.find_element(By.CSS_SELECTOR, '[data-panel="analytical.rfm-grid"]')
    chart = grid.find_element(By.CSS_SELECTOR, "svg[role=img]")
    title = chart.find_element(By.TAG_NAME, "title").get_attribute("textContent")
    assert title == grid.find_element(By.TAG_NAME, "h2").text
    drawn = [t.get_attribute("textContent") for t in chart.find_elements(By.TAG_NAME, "text")]
    table = grid.find_element(By.CSS_SELECTOR, "table.numbers")
    assert table.find_element(By.TAG_NAME, "caption").text.startswith(title)
    header = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th[scope=col]")]
    cells = [[cell.text for cell in row.find_elements(By.CSS_SELECTOR, "th, td")]
             for row in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    # the heat map: the F columns across the top, then per R row its label and its counts
    columns = len(header) - 1
    assert drawn[:columns] == header[1:]
    assert drawn[columns:] == [text for row in cells for text in row]
    assert sum(int(n) for row in cells for n in row[1:]) > 0
    assert grid.find_element(By.PARTIAL_LINK_TEXT, "Download CSV").get_attribute(
        "href").endswith("/dashboards/analytical.rfm-grid.csv")

    assert unlabelled_inputs(browser) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "dashboards-desktop.png"))

    to_phone_width(browser)  # no sideways scroll
    assert browser.save_screenshot(str(ARTIFACTS / "dashboards-phone.png"))
    browser.set_window_size(1280, 1000)

    date = browser.find_element(By.ID, "as_of")  # an earlier date, from the keyboard
    browser.execute_script("arguments[0].value = '2025-06-30'", date)
    date.send_keys(Keys.ENTER)
    wait.until(ec.url_contains("as_of=2025-06-30"))
    assert "Jun 30, 2025, 12:00\u202fAM" in browser.find_element(By.CSS_SELECTOR, "main .hint").text
