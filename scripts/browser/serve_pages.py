#!/usr/bin/env python3
"""Drives `cdam serve`'s pages in a real browser (Debian's headless Chromium through Selenium), as a user would:
load each page, upload a photo on Explain and wait for the maps, search and open a hit's map, tick stored photos
on Define and measure them, and check that no console error and no broken image occurred. Saves a screenshot per
page. The server needs at least one concept and one indexed collection.

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
        # Loaded and empty; lazy images below the fold have not started and are not counted.
        "return [...document.images].filter(i => i.complete && i.naturalWidth === 0 && i.getAttribute('src'))"
        ".map(i => i.alt || i.src.slice(0, 60))")


def page_problems(driver, page):
    """What a reader would see go wrong on the page now: broken images (after they had time to load) and console errors."""
    try:
        WebDriverWait(driver, 30).until(lambda d: not broken_images(d))
    except Exception:  # noqa: BLE001 - the broken ones are listed below
        pass
    return ([f"{page}: broken image {b}" for b in broken_images(driver)] +
            [f"{page}: console error: {e}" for e in console_errors(driver)])


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
        failures += page_problems(driver, "concepts page")

        # A concept's page, through its link: verdict, examples and best matches.
        rows[0].find_element(By.TAG_NAME, "a").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hits .hit") or
                                        d.find_element(By.ID, "status").get_attribute("class") == "error")
        if not driver.find_elements(By.CSS_SELECTOR, "#hits .hit"):
            failures.append("concept page: no best match (" + driver.find_element(By.ID, "status").text + ")")
        if "Verdict" not in driver.find_element(By.ID, "verdict").text:
            failures.append("concept page: no verdict")
        failures += page_problems(driver, "concept page")
        driver.save_screenshot(os.path.join(args.out, "concept.png"))

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
        tiles = driver.find_elements(By.CSS_SELECTOR, "#results .tile canvas")
        driver.save_screenshot(os.path.join(args.out, "explain.png"))
        if len(tiles) < len(boxes):
            failures.append(f"explain page: {len(tiles)} maps for {len(boxes)} concepts")
        else:
            # Hovering a patch reads its value; the opacity slider reaches every map.
            webdriver.ActionChains(driver).move_to_element(tiles[-1]).perform()
            readout = driver.find_elements(By.CSS_SELECTOR, "#results .readout")[-1].text
            if not readout.startswith("patch row"):
                failures.append("explain page: hovering a patch shows no value (" + readout + ")")
            slider = driver.find_element(By.ID, "opacity")
            driver.execute_script("arguments[0].value = '0.3'; arguments[0].dispatchEvent(new Event('input'))", slider)
            if tiles[0].value_of_css_property("opacity") != "0.3":
                failures.append("explain page: the opacity slider does not reach the maps")
        failures += page_problems(driver, "explain page")
        print(f"explain: {len(tiles)} maps for {len(boxes)} concepts in {time.time() - start:.1f} s")

        # Search: the concept's best matches, and one hit's map.
        driver.get(args.url + "search")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#concept option") or False)
        driver.find_element(By.ID, "go").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hits .hit") or
                                        d.find_element(By.ID, "status").get_attribute("class") == "error")
        hits = driver.find_elements(By.CSS_SELECTOR, "#hits .hit")
        if not hits:
            failures.append("search page: no hit (" + driver.find_element(By.ID, "status").text + ")")
        else:
            hits[0].find_element(By.TAG_NAME, "button").click()
            WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#hits .hit")[0]
                                             .find_element(By.TAG_NAME, "button").text != "working…")
            if not driver.find_elements(By.CSS_SELECTOR, "#hits .hit img")[0].get_attribute("src").startswith("data:image/png"):
                failures.append("search page: the first hit's map did not arrive")
        failures += page_problems(driver, "search page")
        driver.save_screenshot(os.path.join(args.out, "search.png"))

        # A stored image picked on Search, explained on the Explain page.
        if hits:
            driver.find_elements(By.CSS_SELECTOR, "#hits .hit a")[0].click()
            boxes = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input[name=concept]") or False)
            boxes[0].click()
            driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "status").text == "done" or
                                             d.find_element(By.ID, "status").get_attribute("class") == "error")
            if not driver.find_elements(By.CSS_SELECTOR, "#results canvas"):
                failures.append("explain page, stored image: no map (" + driver.find_element(By.ID, "status").text + ")")
            failures += page_problems(driver, "explain page, stored image")

        # Define: tick two stored images as examples, measure, and see a verdict.
        driver.get(args.url + "define")
        WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#collection option") or False)
        driver.find_element(By.ID, "load").click()
        cells = WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "input.example") or False)
        for box in cells[:2]:
            box.click()
        driver.find_element(By.ID, "name").send_keys("browser-test")
        driver.find_element(By.ID, "measure").click()
        WebDriverWait(driver, 120).until(lambda d: d.find_element(By.ID, "status").text.startswith(("measured", "no ", "concept")) or
                                         d.find_element(By.ID, "status").get_attribute("class") == "error")
        if not driver.find_element(By.ID, "status").text.startswith("measured"):
            failures.append("define page: " + driver.find_element(By.ID, "status").text)
        elif "Verdict" not in driver.find_element(By.ID, "figures").text:
            failures.append("define page: no verdict shown")
        failures += page_problems(driver, "define page")
        driver.save_screenshot(os.path.join(args.out, "define.png"))
    finally:
        driver.quit()
    for failure in failures:
        print("FAIL " + failure)
    print(f"screenshots in {args.out}: concepts.png, concept.png, explain.png, search.png, define.png")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
