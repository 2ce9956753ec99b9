"""A real browser (Debian's chromium, headless, through chromium-driver) reviews a real task with
the keyboard; the judgment is then read back in SQL. And an XSS attempt that does not run."""

from __future__ import annotations

import shutil

import pytest

from envmine.warehouse.catalog import run_sql
from xss import XSS_ID, xss_instance

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver")]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1000", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(120)
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout_s: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s).until(condition)


def keys(driver, *pressed: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    for key in pressed:
        ActionChains(driver).send_keys(key).perform()


def log_in(driver, live, name: str = "alice") -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{live.url}/queue")
    wait_for(driver, lambda d: "/login" in d.current_url)
    driver.find_element(By.ID, "token").send_keys(live.tokens[name] + "\n")
    wait_for(driver, lambda d: d.current_url.endswith("/queue"))


def test_review_a_task_with_the_keyboard_and_find_it_in_sql(live, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    log_in(browser, live)
    first = browser.find_elements(By.CSS_SELECTOR, "tr[data-href]")[0].get_attribute("data-href")
    keys(browser, "j", Keys.ENTER)
    wait_for(browser, lambda d: d.current_url.endswith(first))
    instance_id = first.removeprefix("/task/")
    keys(browser, "2", "q", "x", "i")
    assert browser.switch_to.active_element.get_attribute("id") == "statement-input"
    keys(browser, "Loading an ini file with a BOM fails.", Keys.ESCAPE, "s")
    wait_for(browser, lambda d: "saved=" in d.current_url)
    assert browser.find_element(By.ID, "saved").text == "saved 4"
    rows = run_sql(live.catalog.catalog_dir, "SELECT field, value FROM judgments WHERE reviewer = 'alice' "
                   "AND subject = ? ORDER BY field", [instance_id]).to_pylist()
    assert rows == [{"field": "clarity", "value": "2"}, {"field": "difficulty", "value": "15m-1h"},
                    {"field": "statement", "value": "Loading an ini file with a BOM fails."},
                    {"field": "validity", "value": "0"}]
    curated = run_sql(live.catalog.catalog_dir, "SELECT instance_id FROM curated")["instance_id"].to_pylist()
    assert instance_id not in curated  # clarity 2 is above the default threshold (1)
    keys(browser, "X", "n")  # veto, save and go to the next task not yet reviewed
    wait_for(browser, lambda d: instance_id not in d.current_url)
    assert run_sql(live.catalog.catalog_dir, "SELECT value FROM judgments WHERE subject = ? AND field = 'veto'",
                   [instance_id])["value"].to_pylist() == ["1"]


def test_script_in_an_issue_body_does_not_run(live, browser, task_by_id):
    from selenium.webdriver.common.by import By

    live.catalog.upsert("instances", [xss_instance(next(iter(task_by_id.values())))])
    log_in(browser, live)
    browser.get(f"{live.url}/task/{XSS_ID}")
    wait_for(browser, lambda d: d.find_elements(By.ID, "statement"))
    assert browser.execute_script("return typeof window.__xss") == "undefined"
    statement = browser.find_element(By.CSS_SELECTOR, "#statement pre.statement").text
    assert "<script>window.__xss = 1</script>" in statement
    assert not browser.find_elements(By.CSS_SELECTOR, "main img")
    browser.get(f"{live.url}/queue")
    assert browser.execute_script("return typeof window.__xss") == "undefined"
