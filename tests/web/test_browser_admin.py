"""The admin pages in a real headless Chromium: a plugin setting changed through the form
generated from its JSON Schema.

Member ``admin1`` (role admin) signs in on the served small demo (``demo_site``), types a
value the schema refuses into loyalty's ``max_downgrade_steps`` (the error shows at that
field, linked from the summary, and nothing is stored), then a valid one (stored: read back
through ``CRM.open``).  Screenshots of the form with its error at desktop and phone width go
to ``browser_support.ARTIFACTS``.  SQLite only (the HTTP-level tests cover PostgreSQL).
"""

from __future__ import annotations

from browser_support import ARTIFACTS, WAIT_SECONDS, to_phone_width, unlabelled_inputs
from crmkit import CRM

FIELD = "f-max_downgrade_steps"


def stored(demo_site) -> dict:
    with CRM.open(demo_site.crm_url) as crm:
        return crm.plugins.config("loyalty")


def test_a_schema_violation_shows_at_its_field_then_a_valid_change_is_stored(browser,
                                                                            demo_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    before = stored(demo_site)
    demo_site.member("admin1", "admin")
    demo_site.sign_in(browser, "admin1", "/admin")
    try:
        browser.find_element(By.LINK_TEXT, "Plugins").click()
        wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, '[data-plugin="loyalty"] a'))).click()
        field = wait.until(ec.presence_of_element_located((By.ID, FIELD)))
        assert field.get_attribute("value") == str(before["max_downgrade_steps"])
        assert unlabelled_inputs(browser) == []

        field.clear()
        field.send_keys("0")
        browser.find_element(By.CSS_SELECTOR, ".config-form button[type=submit]").click()
        summary = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-errors]")))
        field = browser.find_element(By.ID, FIELD)
        assert field.get_attribute("aria-invalid") == "true"
        assert field.get_attribute("value") == "0"  # what was typed stays
        error = browser.find_element(By.ID, f"{FIELD}-error")
        assert f"{FIELD}-error" in field.get_attribute("aria-describedby").split()
        assert "0 is less than the minimum of 1" in error.text
        link = summary.find_element(By.CSS_SELECTOR, f'a[href="#{FIELD}"]')
        assert link.text.startswith("/max_downgrade_steps: 0 is less than the minimum of 1")
        assert stored(demo_site) == before  # nothing stored

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
        assert browser.save_screenshot(str(ARTIFACTS / "admin-config-form-desktop.png"))
        to_phone_width(browser)  # no sideways scroll
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", field)
        assert browser.save_screenshot(str(ARTIFACTS / "admin-config-form-phone.png"))
        browser.set_window_size(1280, 1000)

        field.clear()
        field.send_keys("2")
        browser.find_element(By.CSS_SELECTOR, ".config-form button[type=submit]").click()
        done = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "p.done")))
        assert done.text.endswith("The configuration of loyalty was stored.")
        assert browser.find_element(By.ID, FIELD).get_attribute("value") == "2"
        assert stored(demo_site) == before | {"max_downgrade_steps": 2}
    finally:
        with CRM.open(demo_site.crm_url) as crm:  # leave the shared demo as it was
            crm.plugins.configure("loyalty", before)
