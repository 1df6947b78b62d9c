"""The staff web app in a real headless Chromium (Selenium, the system's chromedriver).

A small ``crmkit demo`` database with every built-in plugin enabled is served by a real
``crmkit serve`` on 127.0.0.1 (the ``demo_site`` fixture); the browser signs in from the keyboard,
searches, opens a customer 360 whose cards come from every plugin implementing
``crmkit_customer_card`` (no card value broken inside a short word), checks it at phone width,
and signs out.  Screenshots of the 360
(desktop and phone width) are saved under ``artifacts/web/`` (git-ignored; the directory
``CRMKIT_ARTIFACTS`` names instead, when set).

The test skips when Chromium or chromedriver is missing, except under ``CI=true``, where a
missing browser fails it.  SQLite only (the HTTP-level tests cover PostgreSQL).
"""

from __future__ import annotations

import pytest

from browser_support import (ARTIFACTS, PASSWORD, SCRIPT_NAME, WAIT_SECONDS, replaced,
                             scrolls_sideways, to_phone_width, unlabelled_inputs, words_broken)
from crmkit import CRM

CARD_PLUGINS = {"operational", "loyalty", "analytical", "collaborative", "social", "idic",
                "valuechain", "catalogue", "campaigns"}
"""The built-in plugins with a customer card."""


def test_sign_in_search_open_a_360_with_every_card_and_sign_out(browser, demo_site):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    with CRM.open(demo_site.crm_url) as crm:
        with crm.read() as conn:
            crm.refresh_plugins(conn)
        carded = {name for name, _, _ in crm.hooks.impls("crmkit_customer_card")}
        target = crm.plugin("operational").cases()[0]["customer"]
    assert carded == CARD_PLUGINS

    browser.get(demo_site.url + "/customers")  # not signed in: sent to the sign-in form
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    assert "/login?next=%2Fcustomers" in browser.current_url
    browser.find_element(By.ID, "username").send_keys("ana")
    browser.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)  # keyboard only
    search = wait.until(ec.presence_of_element_located((By.ID, "q")))
    assert browser.find_element(By.CSS_SELECTOR, "[data-who]").text == "ana"

    search.send_keys("Zed" + Keys.ENTER)
    wait.until(replaced(search))  # the results page replaced the unfiltered list
    row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '[data-customer="X1"]')))
    assert row.find_element(By.TAG_NAME, "a").text == SCRIPT_NAME  # shown as text
    row.find_element(By.TAG_NAME, "a").click()
    name = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-customer-name]")))
    assert name.text == SCRIPT_NAME
    assert browser.execute_script("return window.pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text

    search = browser.find_element(By.CSS_SELECTOR, "header a.brand")
    search.click()
    box = wait.until(ec.presence_of_element_located((By.ID, "q")))
    box.send_keys(target + Keys.ENTER)
    wait.until(replaced(box))
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'[data-customer="{target}"] a'))).click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '[data-panel="operational"]')))
    panels = {e.get_attribute("data-panel")
              for e in browser.find_elements(By.CSS_SELECTOR, "[data-panel]")}
    assert panels == CARD_PLUGINS | {"profile", "consent"}
    operational = browser.find_element(By.CSS_SELECTOR, '[data-panel="operational"]').text
    assert "Case #" in operational and ("due" in operational or "breached" in operational)
    assert unlabelled_inputs(browser) == []
    assert words_broken(browser) == []  # every card's values readable beside their labels

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "customer-360-desktop.png"))
    to_phone_width(browser)  # no sideways scroll
    assert words_broken(browser) == []
    assert browser.save_screenshot(str(ARTIFACTS / "customer-360-phone.png"))
    browser.set_window_size(1280, 1000)

    browser.find_element(By.CSS_SELECTOR, ".signout button").click()
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    browser.get(demo_site.url + "/customers")
    wait.until(ec.presence_of_element_located((By.ID, "username")))
    assert "/login" in browser.current_url


def test_tables_keep_short_words_whole_and_wrap_long_values(browser, demo_site):
    """A table leaves every column room for its short words (the plugins table squeezed
    "Status" into "Stat us" and "Disable assessment" into "assessmen t" beside the long
    descriptions), and a long value without spaces (an external id, an email address, a name)
    wraps or scrolls in its table instead of widening the page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    long_id = "LONG-" + "x" * 150
    with CRM.open(demo_site.crm_url) as crm:
        crm.customers.add(long_id, "N" * 120, email="a" * 60 + "@example.com")
    cells = ".results th, .results td"
    demo_site.sign_in(browser, demo_site.member("tables_admin"), "/admin/plugins")
    browser.set_window_size(1280, 1000)
    assert words_broken(browser, cells) == []
    assert not scrolls_sideways(browser)
    browser.get(demo_site.url + "/customers?q=LONG-")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-customer="{long_id}"]')))
    assert words_broken(browser, cells) == []
    assert not scrolls_sideways(browser)
    browser.get(demo_site.url + "/admin/audit")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.audit")))
    assert long_id in browser.find_element(By.CSS_SELECTOR, "table.audit").text
    assert words_broken(browser, cells) == []
    assert not scrolls_sideways(browser)
