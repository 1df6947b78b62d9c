"""Switching the web app to Simplified Chinese in a real headless Chromium.

The browser asks for British English (``--lang=en-GB``); member zh1 chooses 简体中文 with
the header's language switcher (a form: keyboard and CSRF token as any other), then sees the
customer search and a 360 page in Chinese, the plugins' cards included, and the choice
stays with the member.  Screenshot: ``customer-360-zh.png`` under ``artifacts/web/``.
SQLite only (the HTTP-level tests in test_web_i18n.py cover PostgreSQL).
"""

from __future__ import annotations

from browser_support import ARTIFACTS, WAIT_SECONDS, replaced, unlabelled_inputs
from crmkit import CRM


def test_switch_to_chinese_and_see_the_search_and_the_360_in_chinese(browser, demo_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    with CRM.open(demo_site.crm_url) as crm:
        target = crm.plugin("operational").cases()[0]["customer"]
    demo_site.sign_in(browser, demo_site.member("zh1", "agent"), "/customers")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Customers"

    switcher = browser.find_element(By.ID, "language")
    assert browser.find_element(By.CSS_SELECTOR, 'label[for="language"]').text == "Language"
    Select(switcher).select_by_value("zh-Hans")
    switcher.submit()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, 'html[lang="zh-Hans"]')))
    assert browser.find_element(By.TAG_NAME, "h1").text == "客户"
    assert (browser.find_element(By.CSS_SELECTOR, 'label[for="q"]').text
            == "按名称、电子邮件、电话、标签或外部编号搜索")
    with CRM.open(demo_site.crm_url) as crm:
        assert crm.staff.get("zh1").locale == "zh-Hans"

    box = browser.find_element(By.ID, "q")
    box.send_keys(target + Keys.ENTER)
    wait.until(replaced(box))
    caption = browser.find_element(By.CSS_SELECTOR, "table.results caption").text
    assert caption.endswith(f"位客户与“{target}”匹配")
    wait.until(ec.presence_of_element_located(
        (By.CSS_SELECTOR, f'[data-customer="{target}"] a'))).click()
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '[data-panel="operational"]')))
    assert browser.find_element(By.ID, "profile-title").text == "基本资料"
    assert browser.find_element(By.ID, "timeline-title").text == "时间线"
    operational = browser.find_element(By.CSS_SELECTOR, '[data-panel="operational"]')
    assert operational.find_element(By.TAG_NAME, "h2").text == "销售与服务"
    assert "工单 #" in operational.text and "Case #" not in operational.text
    assert browser.find_element(By.ID, "card-analytical").text == "客户分析"
    assert unlabelled_inputs(browser) == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "customer-360-zh.png"))

    browser.delete_all_cookies()  # a new sign-in still finds the member's language
    demo_site.sign_in(browser, "zh1", "/customers")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-Hans"
