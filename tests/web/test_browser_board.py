"""The pipeline board and My work in a real headless Chromium (Selenium, the system's
chromedriver) against the served small demo (the ``demo_site`` fixture).

The board test moves its own opportunities (on customer X1, whose name is a script): one by
the keyboard control alone (type-ahead in the stage list, Tab, Enter), one by dragging its
card onto another column (HTML5 drag events dispatched to the page, so board.js does the
work), then one illegally (back, against the funnel's rule): the rule is shown and the card
stays.  Screenshots of the board at desktop and phone width (no sideways scroll) and of My
work go under ``artifacts/web/``.  The My work test completes a task with its button.

Skips when Chromium or chromedriver is missing, except under ``CI=true``.  SQLite only (the
HTTP-level tests cover PostgreSQL).
"""

from __future__ import annotations

import datetime as dt

from browser_support import (ARTIFACTS, NOW, SCRIPT_NAME, WAIT_SECONDS, replaced, to_phone_width,
                             unlabelled_inputs)
from crmkit import CRM
from crmkit.clock import FixedClock

DRAG = """
const [card, column] = arguments;
const data = new DataTransfer();
const fire = (target, type) => target.dispatchEvent(
    new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: data}));
fire(card, "dragstart");
fire(column, "dragenter");
fire(column, "dragover");
fire(column, "drop");
fire(card, "dragend");
"""
"""Drag ``card`` onto ``column`` the way a mouse drag does, event by event."""


def open_demo(site) -> CRM:
    """The demo's database on the server's pinned clock."""
    return CRM.open(site.crm_url, clock=FixedClock(dt.datetime.fromisoformat(NOW)))


def stage(site, opportunity_id: int) -> str:
    with open_demo(site) as crm:
        return crm.plugin("operational").opportunity(opportunity_id)["stage"]


def test_move_by_keyboard_by_drag_and_an_illegal_move_on_the_board(browser, demo_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    member = demo_site.member("board1", "manager")
    with open_demo(demo_site) as crm:
        ops = crm.plugin("operational")
        by_keys = ops.create_opportunity("X1", "Keyboard deal", "1000", "GBP", member)
        by_drag = ops.create_opportunity("X1", "Dragged deal", "2000", "GBP", member,
                                         stage="needs_analysis")
        others = [c.external_id for c in crm.customers.list(limit=4) if c.external_id != "X1"]
        for customer, name, amount, at in zip(others, ("Support plan", "Team licence",
                                                       "Upgrade"),
                                              ("450", "12500", "3200"),
                                              ("qualification", "commit", "negotiation")):
            ops.create_opportunity(customer, name, amount, "GBP", member, stage=at)
    demo_site.sign_in(browser, member, "/operational/board")

    def card(opportunity_id: int):
        return wait.until(ec.presence_of_element_located((By.ID, f"opportunity-{opportunity_id}")))

    def column_of(opportunity_id: int) -> str:
        return card(opportunity_id).find_element(By.XPATH, "ancestor::section[@data-stage]"
                                                 ).get_attribute("data-stage")

    assert column_of(by_keys) == "qualification" and column_of(by_drag) == "needs_analysis"
    names = {e.text for e in card(by_keys).find_elements(By.CSS_SELECTOR, "[data-deal-customer]")}
    assert names == {SCRIPT_NAME}  # shown as text
    assert browser.execute_script("return window.pwned === undefined")
    assert unlabelled_inputs(browser) == []

    # by the keyboard control: type-ahead in the stage list, Tab to Move, Enter
    chooser = card(by_keys).find_element(By.TAG_NAME, "select")
    chooser.send_keys("p")  # type-ahead: the first stage starting with p
    assert chooser.get_attribute("value") == "proposal"
    chooser.send_keys(Keys.TAB)
    focused = browser.switch_to.active_element
    assert focused.text == "Move" and focused.tag_name == "button"
    focused.send_keys(Keys.ENTER)
    wait.until(replaced(chooser))
    notice = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-moved]")))
    assert notice.text == "✓ “Keyboard deal” moved to proposal."
    assert column_of(by_keys) == "proposal" and stage(demo_site, by_keys) == "proposal"

    # by dragging the card onto another column (board.js sends the card's form)
    dragged = card(by_drag)
    assert dragged.get_attribute("draggable") == "true"
    target = browser.find_element(By.CSS_SELECTOR, 'section[data-stage="negotiation"]')
    browser.execute_script(DRAG, dragged, target)
    wait.until(replaced(dragged))
    notice = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-moved]")))
    assert notice.text == "✓ “Dragged deal” moved to negotiation."
    assert column_of(by_drag) == "negotiation" and stage(demo_site, by_drag) == "negotiation"

    # illegally, by drag: back to qualification is against the funnel's rule
    dragged = card(by_drag)
    target = browser.find_element(By.CSS_SELECTOR, 'section[data-stage="qualification"]')
    browser.execute_script(DRAG, dragged, target)
    wait.until(replaced(dragged))
    refused = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-move-error]")))
    assert refused.text == (f"opportunity {by_drag}: moving back from 'negotiation' to "
                            "'qualification' is not allowed (funnel.allow_backward is false)")
    assert column_of(by_drag) == "negotiation" and stage(demo_site, by_drag) == "negotiation"

    # and illegally by the keyboard control: the same rule, the card stays
    chooser = card(by_keys).find_element(By.TAG_NAME, "select")
    chooser.send_keys("q")
    chooser.send_keys(Keys.TAB)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait.until(replaced(chooser))
    refused = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-move-error]")))
    assert "moving back from 'proposal' to 'qualification' is not allowed" in refused.text
    assert column_of(by_keys) == "proposal" and stage(demo_site, by_keys) == "proposal"

    browser.get(demo_site.url + "/operational/board")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-board]")))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    browser.set_window_size(1280, 1300)
    assert browser.save_screenshot(str(ARTIFACTS / "board-desktop.png"))
    to_phone_width(browser)  # no sideways scroll
    columns = browser.find_elements(By.CSS_SELECTOR, "section[data-stage]")
    assert columns[0].location["x"] == columns[1].location["x"]  # stacked, one under another
    assert browser.save_screenshot(str(ARTIFACTS / "board-phone.png"))
    browser.set_window_size(1280, 1000)


def test_complete_a_task_on_my_work(browser, demo_site):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_SECONDS)
    member = demo_site.member("board2", "agent")
    now = dt.datetime.fromisoformat(NOW)
    with open_demo(demo_site) as crm:
        ops = crm.plugin("operational")
        task = ops.create_task("X1", "Call Zed back", member, now + dt.timedelta(hours=3))
        overdue = ops.create_task("X1", "Send the brochure", member, now - dt.timedelta(hours=2))
    demo_site.sign_in(browser, member, "/my-work")
    item = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'[data-task="{task}"]')))
    assert "Due in 3 h 0 min" in item.text and SCRIPT_NAME in item.text
    late = browser.find_element(By.CSS_SELECTOR, f'[data-task="{overdue}"]')
    assert "Overdue by 2 h 0 min" in late.text
    assert browser.execute_script("return window.pwned === undefined")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "my-work-desktop.png"))

    item.find_element(By.TAG_NAME, "button").send_keys(Keys.ENTER)  # keyboard
    wait.until(replaced(item))
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, '[role="status"]')))
    assert browser.find_element(By.CSS_SELECTOR, '[role="status"]').text == "✓ Task completed."
    assert not browser.find_elements(By.CSS_SELECTOR, f'[data-task="{task}"]')
    assert browser.find_elements(By.CSS_SELECTOR, f'[data-task="{overdue}"]')
    with open_demo(demo_site) as crm:
        assert crm.plugin("operational").task(task)["status"] == "done"
