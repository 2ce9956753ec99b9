"""Screenshots of the review app for the README, taken from the real command: starts
`envmine review` on a home's catalog, logs two reviewers in with headless chromium, reviews
tasks with the keyboard, and saves docs/review/{queue,task,episode,agreement}.png.

    .venv/bin/python scripts/review_screenshots.py --home /work/home-14
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from envmine.testing.net import wait_for_http

ENVMINE = str(Path(sys.executable).parent / "envmine")
OUT = Path(__file__).resolve().parents[1] / "docs" / "review"


def token(home: str, name: str) -> str:
    out = subprocess.run([ENVMINE, "review", "--home", home, "--add-reviewer", name], capture_output=True,
                         text=True, check=True).stdout
    return re.search(r"token \(shown once\): (\S+)", out).group(1)


def browser() -> webdriver.Chrome:
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1440,1000", "--hide-scrollbars"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def keys(driver, *pressed: str) -> None:
    for key in pressed:
        ActionChains(driver).send_keys(key).perform()


def log_in(driver, url: str, secret: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "token").send_keys(secret + "\n")
    WebDriverWait(driver, 60).until(lambda d: d.current_url.endswith("/queue"))


def review(driver, url: str, instance_id: str, pressed: list[str]) -> None:
    driver.get(f"{url}/task/{instance_id}")
    keys(driver, *pressed, "s")
    WebDriverWait(driver, 60).until(lambda d: "saved=" in d.current_url)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--home", required=True)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    url = f"http://127.0.0.1:{args.port}"
    tokens = {name: token(args.home, name) for name in ("alice", "bob")}
    server = subprocess.Popen([ENVMINE, "review", "--home", args.home, "--port", str(args.port)])
    try:
        wait_for_http(f"{url}/login", timeout_s=300)
        OUT.mkdir(parents=True, exist_ok=True)
        driver = browser()
        log_in(driver, url, tokens["bob"])
        ids = [row.get_attribute("data-href").removeprefix("/task/")
               for row in driver.find_elements(By.CSS_SELECTOR, "tr[data-href]")]
        for n, instance_id in enumerate(ids[:5]):
            review(driver, url, instance_id, [str(n % 2), "q", "z"])
        log_in(driver, url, tokens["alice"])
        for n, instance_id in enumerate(ids[:4]):
            review(driver, url, instance_id, [str(n % 3), "w" if n == 3 else "q", "x"])
        driver.get(f"{url}/queue")
        keys(driver, "j", "j")
        driver.save_screenshot(str(OUT / "queue.png"))
        driver.get(f"{url}/task/pypi__iniconfig-2.3.0")
        keys(driver, "1", "q", "x", "?")
        driver.save_screenshot(str(OUT / "task.png"))
        episodes = driver.find_elements(By.CSS_SELECTOR, "#episodes a")
        if episodes:
            driver.get(episodes[-1].get_attribute("href"))
            driver.set_window_size(1440, 1500)
            driver.save_screenshot(str(OUT / "episode.png"))
            driver.set_window_size(1440, 1000)
        driver.get(f"{url}/agreement")
        driver.save_screenshot(str(OUT / "agreement.png"))
        driver.get(f"{url}/queue?code=f2p_import_failure_only")
        driver.save_screenshot(str(OUT / "queue-filtered.png"))
        print("saved", sorted(p.name for p in OUT.glob("*.png")))
        driver.quit()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
