"""/docs and /redoc render in a real browser that may reach nothing but tousu.

Debian's headless Chromium (`make test` installs it) is told that every host but 127.0.0.1 does not exist and that
every request goes through a proxy that does not answer, so a script, style, font or image from a CDN would fail to
load and the page would stay blank. The browser's own log of requests then shows that every other request was
stopped by the pages' Content-Security-Policy before it was sent, so that none leaves the browser on an open network
either.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from app.config import Settings
from app.main import create_app
from tests.conftest import LiveServer
from tests.testclient import TestClient

pytestmark = pytest.mark.sqlite_only  # the pages do not read the database

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
RENDER_SECONDS = 60
OUTSIDE_REFUSED = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=127.0.0.1",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (CHROMIUM and CHROMEDRIVER):
        message = "Debian's chromium and chromium-driver are not installed (make test installs them as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI is set: the documentation pages must be tested", pytrace=False)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root, in a container
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,2000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        *OUTSIDE_REFUSED,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_pages_name_no_other_host_and_their_policy_allows_none(page: str) -> None:
    client = TestClient(create_app(Settings(database_url="sqlite:///:memory:")))
    response = client.get(page)
    assert response.status_code == 200
    assert "://" not in response.text, "the page names another host"
    policy = dict(directive.split(" ", 1) for directive in response.headers["Content-Security-Policy"].split("; "))
    assert all(not re.search(r"https?:|\*", sources) for sources in policy.values()), policy
    assert policy["default-src"] == "'self'"
    for asset in re.findall(r'(?:src|href)="([^"]+)"', response.text):
        assert client.get(asset).status_code == 200, asset


def summaries(server: LiveServer) -> set[str]:
    document = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    return {operation["summary"] for path in document["paths"].values() for operation in path.values()}


@dataclass
class Visit:
    """What the browser did for one page: each URL asked for with its outcome, and the console's errors."""

    requests: dict[str, str]
    errors: list[str]

    def outside(self, server: LiveServer) -> dict[str, str]:
        """The requests for anything but tousu's own pages, assets and the page's data: and blob: URLs."""
        own = (server.url + "/", "data:", f"blob:{server.url}/")
        return {url: outcome for url, outcome in self.requests.items() if not url.startswith(own)}


def network_outcomes(driver: webdriver.Chrome) -> dict[str, str]:
    """Each URL asked for since the last call, with "loaded", "blocked: <reason>" or "failed: <error>" (the
    performance log empties as it is read)."""
    urls: dict[str, str] = {}
    outcomes: dict[str, str] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message["params"]
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.loadingFinished":
            outcomes[params["requestId"]] = "loaded"
        elif message["method"] == "Network.loadingFailed":
            reason = params.get("blockedReason")
            outcomes[params["requestId"]] = f"blocked: {reason}" if reason else f"failed: {params['errorText']}"
    return {url: outcomes.get(request_id, "unfinished") for request_id, url in urls.items()}


def visit(driver: webdriver.Chrome, server: LiveServer, page: str, shown: str, artifact: Path) -> Visit:
    """Open the page and wait until every operation's summary is shown as `shown` (an XPath); keep a screenshot."""
    expected = summaries(server)
    driver.get_log("performance")
    driver.get_log("browser")
    url = server.url + page
    driver.get(url)

    def texts(_: Any) -> set[str]:
        return {element.text.strip() for element in driver.find_elements(By.XPATH, shown)} & expected

    try:
        WebDriverWait(driver, RENDER_SECONDS, poll_frequency=0.25).until(lambda d: texts(d) == expected)
    except TimeoutException:
        driver.save_screenshot(artifact)
        missing = sorted(expected - texts(driver))
        pytest.fail(
            f"{url} did not show {len(missing)} operations within {RENDER_SECONDS} s: {missing[:5]} (see {artifact})"
        )
    driver.save_screenshot(artifact)
    errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
    return Visit(network_outcomes(driver), errors)


def assert_nothing_left_the_browser(seen: Visit, server: LiveServer) -> None:
    """tousu answered every request; any other was stopped by the page's own policy, so it was never sent, on an
    open network as well; the console complains of nothing else."""
    assert seen.requests, "the browser's log of requests is empty"
    served = {url: outcome for url, outcome in seen.requests.items() if url.startswith(server.url + "/")}
    assert set(served.values()) == {"loaded"}, served
    assert set(seen.outside(server).values()) <= {"blocked: csp"}, seen.outside(server)
    assert [error for error in seen.errors if "violates the following Content Security Policy" not in error] == []


def test_swagger_ui_renders_every_operation_with_no_outside_network(
    browser: webdriver.Chrome, live_server: LiveServer, tmp_path: Path
) -> None:
    shown = "//*[contains(@class, 'opblock-summary-description')]"
    seen = visit(browser, live_server, "/docs", shown, tmp_path / "docs.png")
    assert_nothing_left_the_browser(seen, live_server)
    assert seen.requests[f"{live_server.url}/docs/assets/swagger-ui-bundle.js"] == "loaded"
    assert seen.outside(live_server) == {}, "Swagger UI asks for nothing elsewhere"


def test_redoc_renders_every_operation_with_no_outside_network(
    browser: webdriver.Chrome, live_server: LiveServer, tmp_path: Path
) -> None:
    seen = visit(browser, live_server, "/redoc", "//h2", tmp_path / "redoc.png")
    assert_nothing_left_the_browser(seen, live_server)
    assert seen.requests[f"{live_server.url}/docs/assets/redoc.standalone.js"] == "loaded"
