"""Helpers of the browser tests: a headless Chromium and a served ``crmkit demo`` database
(the fixtures ``browser`` and ``demo_site`` in conftest.py hand them out).

The demo is small (50 customers, 3 interactions each on average: the full demo of 3,000
customers takes minutes on a shared machine), every built-in plugin is enabled, and it is
served by a real ``crmkit serve`` on 127.0.0.1 at a pinned instant (``CRMKIT_NOW``), once
per test process.  Each test signs in as its own staff member (``site.member(handle,
role)``) so that one test's preferences never leak into another's.  Screenshots go under
``artifacts/web/`` (git-ignored; the directory ``CRMKIT_ARTIFACTS`` names instead, when set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from crmkit import CRM
from web_support import Served, free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
NOW = "2026-03-02T10:00:00+00:00"
"""The demo's and the server's clock (CRMKIT_NOW): the pages show the same data every run."""
PASSWORD = "correct horse battery"
"""Every browser test member's password."""
SCRIPT_NAME = "<script>window.pwned=1</script>Zed"
"""The name of customer X1, added to the demo: it must show as text on every page."""
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("CRMKIT_ARTIFACTS") or ROOT / "artifacts") / "web"
WAIT_SECONDS = 30
"""Deadline for a page element to appear (a deadline, not a wait)."""
CRMKIT = str(Path(sys.executable).parent / "crmkit")


def browser_available() -> bool:
    return all(os.access(path, os.X_OK) for path in (CHROMIUM, CHROMEDRIVER))


def start_chromium():
    """A headless Chromium driven through the system's chromedriver (nothing downloaded)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1280,1000", "--lang=en-GB"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # for csp_violations
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def csp_violations(driver) -> list[str]:
    """What the browser refused, since the last call, because of a page's
    Content-Security-Policy (an inline script or style, say), as its console said it."""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]


class DemoSite(Served):
    """A served ``crmkit demo`` database; ``member(handle, role)`` adds a staff member who
    can sign in with :data:`PASSWORD`."""

    env: dict[str, str]

    def member(self, handle: str, role: str = "admin") -> str:
        """Add staff member ``handle`` with ``role`` and the test password (once); returns
        the handle."""
        with CRM.open(self.crm_url) as crm:
            if not any(s.handle == handle for s in crm.staff.list(active_only=False)):
                crm.staff.add(handle, handle.title(), "web")
            crm.staff.set_role(handle, role)
            crm.staff.set_password(handle, PASSWORD)
        return handle

    def sign_in(self, driver, handle: str, path: str = "/customers") -> None:
        """Sign ``handle`` in through the form (keyboard only) and wait for ``path``."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        wait = WebDriverWait(driver, WAIT_SECONDS)
        driver.get(self.url + "/login?next=" + path)
        wait.until(ec.presence_of_element_located((By.ID, "username"))).send_keys(handle)
        driver.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-who]")))


def start_demo_site(folder: Path) -> DemoSite:
    """``crmkit demo`` (small) on SQLite in ``folder``, staff member ana's password set,
    customer X1 named :data:`SCRIPT_NAME`, served by ``crmkit serve``."""
    url = f"sqlite:///{folder / 'demo.db'}"
    env = dict(os.environ, CRMKIT_NOW=NOW)
    made = subprocess.run([CRMKIT, "--db", url, "demo", "--customers", "50",
                           "--interactions-per-customer", "3"], cwd=folder, env=env,
                          capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    set_password = subprocess.run([CRMKIT, "--db", url, "staff", "password", "ana"],
                                  input=PASSWORD + "\n", env=env, capture_output=True,
                                  text=True)
    assert set_password.returncode == 0, set_password.stderr
    with CRM.open(url) as crm:
        crm.customers.add("X1", SCRIPT_NAME, email="zed@example.com")
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([CRMKIT, "--db", url, "serve", "--port", str(port)],
                                   stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=folder)
    site = DemoSite(url, process, port, log, {}, None)
    site.env = env
    try:
        site.wait_ready()
    except BaseException:
        site.stop()
        raise
    return site


def replaced(element):
    """A wait condition: the page holding ``element`` has been replaced.  Selenium's
    ``staleness_of`` asks the element and fails when Chromium answers, mid-navigation, that
    the node "does not belong to the document"; that answer means the same thing here."""
    from selenium.common.exceptions import WebDriverException

    def check(driver) -> bool:
        try:
            element.is_enabled()
        except WebDriverException:  # stale, or detached while the new page loads
            return True
        return False

    return check


def unlabelled_inputs(driver) -> list[str]:
    """The names of the page's visible inputs, selects and text areas that have no label."""
    return driver.execute_script("""
        return [...document.querySelectorAll('input, select, textarea')]
          .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length))
          .map(e => e.name);""")


def words_broken(driver, cells: str = ".card dd", longest: int = 12) -> list[str]:
    """The texts of the page's ``cells`` (a CSS selector; the cards' values by default) too
    narrow for one of their words of at most ``longest`` characters, which then breaks
    across lines: a value column too narrow for ``at risk`` or ``268 days ago`` (longer
    words, such as email addresses, may wrap anywhere).  Each word is measured in the cell's
    font outside the page's layout, against the cell's width inside its padding."""
    return driver.execute_script("""
        const [cells, longest] = arguments;
        const probe = document.createElement('span');
        probe.style.cssText = 'position: absolute; visibility: hidden; white-space: nowrap';
        document.body.appendChild(probe);
        const broken = [...document.querySelectorAll(cells)].filter(cell => {
          const style = getComputedStyle(cell);
          const room = cell.clientWidth - parseFloat(style.paddingLeft)
                       - parseFloat(style.paddingRight);
          probe.style.font = style.font;
          return cell.innerText.split(/\\s+/)
            .filter(word => word && word.length <= longest)
            .some(word => {
              probe.textContent = word;
              return probe.getBoundingClientRect().width > room + 0.5;
            });
        }).map(cell => cell.innerText);
        probe.remove();
        return broken;""", cells, longest)


def scrolls_sideways(driver) -> bool:
    """Whether the page is wider than the window."""
    return driver.execute_script(
        "return document.documentElement.scrollWidth > window.innerWidth")


def to_phone_width(driver) -> None:
    """Narrow the window to a phone's width (390 px) and check that the page does not scroll
    sideways."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.set_window_size(390, 1600)
    WebDriverWait(driver, WAIT_SECONDS).until(
        lambda d: d.execute_script("return window.innerWidth") <= 400)
    assert not scrolls_sideways(driver)
