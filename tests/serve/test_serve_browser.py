"""The web app end to end in headless Chromium (Debian's chromium + chromedriver via Selenium, nothing downloaded):
upload two scans → posture, reconstruction and the verification decision shown; pick a sample; a wrong file type
shows the server's message. Screenshots go to ``test-artifacts/`` (or ``$THZFACE_ARTIFACTS``).

Chromium comes from ``scripts/install-browser.sh``. Where it is missing the test is skipped with that reason,
except under CI (``CI`` or ``THZFACE_REQUIRE_BROWSER`` set), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from thzface.data.naming import POSTURES

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(os.environ.get("THZFACE_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))
WAIT_S = 60  # generous: the machine may be busy; nothing here is a timing assertion


def require_browser() -> None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if not missing:
        return
    reason = f"Chromium not installed ({', '.join(missing)} missing): run scripts/install-browser.sh as root"
    if os.environ.get("CI") or os.environ.get("THZFACE_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(serve_run: Path) -> Iterator[str]:
    """The app served by uvicorn in a background thread on a free 127.0.0.1 port."""
    import uvicorn

    from thzface.serve import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(serve_run), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the web app did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    require_browser()
    os.environ["SE_OFFLINE"] = "true"  # selenium-manager must never download a browser or driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
        f"--user-data-dir={profile}", "--window-size=1100,1500",
    ):  # fmt: skip
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    yield driver
    driver.quit()


def wait(driver, condition):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S).until(condition)


def open_page(driver, url: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    wait(driver, lambda d: "recipe mtl" in d.find_element(By.ID, "run-info").text)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    assert driver.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path


def test_upload_two_scans_shows_posture_reconstruction_and_decision(browser, base_url, tiny_data):
    import httpx
    from selenium.webdriver.common.by import By

    a, b = sorted((tiny_data / "thz").glob("*_b*b_*.png"))[:2]
    open_page(browser, base_url)
    browser.find_element(By.ID, "file-input").send_keys(f"{a}\n{b}")
    wait(browser, lambda d: d.find_element(By.ID, "decision").text)
    cards = browser.find_elements(By.CSS_SELECTOR, "#results .card")
    assert len(cards) == 2
    api = httpx.post(f"{base_url}/api/analyze", files={"image": (a.name, a.read_bytes())}).json()
    posture_line = cards[0].find_element(By.CSS_SELECTOR, ".posture").text
    assert posture_line == f"Posture: {api['posture']} ({api['probability']:.2f})"
    widths = browser.execute_script("return [...document.querySelectorAll('img.recon')].map(i => i.naturalWidth)")
    assert widths == [api["image_size"]] * 2
    verdict = httpx.post(f"{base_url}/api/verify", files={"a": (a.name, a.read_bytes()), "b": (b.name, b.read_bytes())})
    v = verdict.json()
    assert browser.find_element(By.ID, "decision").text == v["decision"]
    assert browser.find_element(By.ID, "score").text == f"{v['score']:.3f}"
    assert browser.find_element(By.ID, "threshold").text == f"{v['threshold']:.3f}"
    assert screenshot(browser, "serve.png").stat().st_size > 10_000


def test_pick_a_sample(browser, base_url):
    from selenium.webdriver.common.by import By

    open_page(browser, base_url)
    buttons = browser.find_elements(By.CSS_SELECTOR, "#sample-list button")
    assert buttons, "the evaluated dataset's scans are offered"
    buttons[0].click()
    card = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#results .card"))[0]
    assert card.find_element(By.CSS_SELECTOR, ".posture strong").text in POSTURES
    assert buttons[0].get_attribute("title") in card.find_element(By.TAG_NAME, "h3").text


def test_wrong_file_type_shows_the_message(browser, base_url, tmp_path):
    from selenium.webdriver.common.by import By

    bad = tmp_path / "notes.txt"
    bad.write_text("not a scan")
    open_page(browser, base_url)
    browser.find_element(By.ID, "file-input").send_keys(str(bad))
    error = wait(browser, lambda d: d.find_element(By.ID, "error").text)
    assert error == "notes.txt: not an image (expected PNG, JPEG, BMP, TIFF)"
    assert not browser.find_elements(By.CSS_SELECTOR, "#results .card")
    screenshot(browser, "serve-error.png")
