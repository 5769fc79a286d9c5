#!/usr/bin/env python3
"""Drives `cdam serve`'s pages in a real browser (Debian's headless Chromium through Selenium), as a user would:
load each page, upload a photo on Explain, tick the concepts, wait for the maps, and check that no console error and
no broken image occurred. Saves a screenshot per page.

    python3 scripts/browser/serve_pages.py --url http://127.0.0.1:PORT/ --photo PHOTO --out DIR

Exits 0 when every check passes, 1 with one line per failed check otherwise.
"""
import argparse
import os
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = Options()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1600", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def console_errors(driver):
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def broken_images(driver):
    return driver.execute_script(
        "return [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src.slice(0, 60))")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    failures = []
    driver = browser()
    try:
        # Concepts: the table lists every concept.
        driver.get(args.url + "concepts")
        WebDriverWait(driver, 30).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#rows tr")))
        rows = driver.find_elements(By.CSS_SELECTOR, "#rows tr")
        if not rows:
            failures.append("concepts page: no concept listed")
        driver.save_screenshot(os.path.join(args.out, "concepts.png"))
        failures += ["concepts page: console error: " + e for e in console_errors(driver)]

        # Explain: upload a photo, tick every concept, wait for a map per concept.
        driver.get(args.url)
        boxes = WebDriverWait(driver, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=concept]") or False)
        for box in boxes:
            box.click()
        driver.find_element(By.ID, "am").click()
        driver.find_element(By.ID, "file").send_keys(os.path.abspath(args.photo))
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        start = time.time()
        WebDriverWait(driver, 300).until(lambda d: d.find_element(By.ID, "status").text in ("done",) or
                                         d.find_element(By.ID, "status").get_attribute("class") == "error")
        status = driver.find_element(By.ID, "status").text
        if status != "done":
            failures.append("explain page: " + status)
        tiles = driver.find_elements(By.CSS_SELECTOR, "#results .tile img")
        if len(tiles) < len(boxes):
            failures.append(f"explain page: {len(tiles)} maps for {len(boxes)} concepts")
        WebDriverWait(driver, 30).until(lambda d: not broken_images(d))
        failures += ["explain page: broken image " + b for b in broken_images(driver)]
        failures += ["explain page: console error: " + e for e in console_errors(driver)]
        driver.save_screenshot(os.path.join(args.out, "explain.png"))
        print(f"explain: {len(tiles)} maps for {len(boxes)} concepts in {time.time() - start:.1f} s")
    finally:
        driver.quit()
    for failure in failures:
        print("FAIL " + failure)
    print(f"screenshots: {args.out}/concepts.png, {args.out}/explain.png")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
