"""The progress page in a real browser at a phone's width: Debian's headless Chromium (`make test` installs it),
driven as tests/test_api_docs.py drives it. Each state shows its words; nothing hidden reaches the DOM; the page's
own style block passes its Content-Security-Policy; a screenshot per state is kept in var/test-artifacts/progress."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from app.auth.models import Role
from tests.conftest import ROOT, Caller, LiveServer
from tests.progress.cases import CONTACT, EXPLANATION, HIDDEN, STAFF, STATES, STORE, bring_to, full_phone, issue
from tests.progress.cases import path_of as link_path
from tests.test_api_docs import browser  # noqa: F401 - the module's Chromium, or the skip without it

pytestmark = pytest.mark.sqlite_only  # the page reads the same rows on both databases: tests/progress/test_links.py

ARTIFACTS = ROOT / "var" / "test-artifacts" / "progress"
PHONE = {"width": 375, "height": 812, "deviceScaleFactor": 2, "mobile": True}
SHOWN = {
    "accepted": ["已受理", "前给您书面答复", "投诉已受理"],
    "investigating": ["调查中", "前给您书面答复", "已转交调查"],
    "awaiting_approval": ["待审批", "前给您书面答复"],
    "resolved_owed": ["已答复", "书面答复", "退款 300.00 元", "正在落实中", "欧***女士您好"],
    "resolved_fulfilled": ["已答复", "退款 300.00 元", "已落实"],
    "revisited": ["已回访", "已落实"],
    "rejected": ["投诉不成立", "处理说明", EXPLANATION],
    "reopened": ["调查中", "重新处理", "前给您书面答复"],
}


def screenshot(driver: webdriver.Chrome, state: str) -> None:
    """The whole page as the phone shows it, below the fold too."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    (ARTIFACTS / f"{state}.png").write_bytes(base64.b64decode(shot["data"]))


def test_each_state_at_a_phones_width_shows_its_words_and_nothing_hidden(
    browser: webdriver.Chrome,  # noqa: F811
    live_server: LiveServer,
    make_caller: Any,
    supervisor: Caller,
    admin: Caller,
) -> None:
    staff = make_caller(Role.handler, actor=STAFF)
    store = make_caller(Role.store, store_id=STORE, actor="store-hidden-0012")
    assert admin.post("/v1/escalation-contacts", json=CONTACT).status_code == 201
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        for n, state in enumerate(STATES, start=20):
            complaint = bring_to(state, staff, supervisor, store, n)
            browser.get_log("browser")
            browser.get(live_server.url + link_path(issue(staff, complaint["id"])))
            text = browser.find_element(By.TAG_NAME, "body").text
            for words in [complaint["number"], "欧***", "138****8000", "客服热线", *SHOWN[state]]:
                assert words in text, f"{state}: {words!r} not shown"
            source = browser.page_source
            for secret in (*HIDDEN, full_phone(n)):
                assert secret not in source, f"{state}: {secret!r} in the DOM"
            assert browser.find_elements(By.TAG_NAME, "script") == []
            assert browser.execute_script("return document.documentElement.clientWidth") == 375
            fits = browser.execute_script("return document.documentElement.scrollWidth <= 375")
            assert fits, f"{state}: the page is wider than the phone"
            styled = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
            assert styled == "rgb(244, 245, 247)", "the style block was refused by the page's policy"
            assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
            screenshot(browser, state)
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
