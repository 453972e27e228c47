"""The console in a real browser (issue 18): Debian's headless Chromium, driven by
Selenium, against the root function served over HTTP on the session's local
KServe cluster (``console_url``, ``browser`` in conftest; ``support.browser``).

The first tests prove the harness itself can fail (a missing browser, an
inaccessible page, a wait that times out, what a failure saves); then the
console's page, its headers and its Content-Security-Policy as Chromium applies it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from selenium.common.exceptions import TimeoutException
from support.browser import (
    Browser,
    BrowserMissing,
    axe_audit,
    set_viewport,
    wait_for,
    wait_gone,
)

pytestmark = pytest.mark.integration

# A page breaking two critical rules (an image without alt text, a button without a name).
_INACCESSIBLE = (
    '<!doctype html><html lang="en"><head><title>bad</title></head>'
    '<body><main><img src="x.png"><button></button><p id="hello">hello</p></main></body></html>'
)


def _data_url(html: str) -> str:
    return "data:text/html;charset=utf-8," + quote(html)


# -- the harness ---------------------------------------------------------------


def test_a_missing_chromium_fails_with_what_to_install(tmp_path: Path) -> None:
    with pytest.raises(BrowserMissing, match=r"make browser"):
        Browser.start(chromium=tmp_path / "chromium")


def test_the_viewport_is_the_size_asked_for(browser: Browser) -> None:
    browser.driver.get(_data_url(_INACCESSIBLE))
    assert browser.driver.execute_script("return [innerWidth, innerHeight]") == [1280, 800]

    set_viewport(browser.driver, 390, 844)

    assert browser.driver.execute_script("return [innerWidth, innerHeight]") == [390, 844]


def test_the_audit_reports_serious_and_critical_violations(browser: Browser) -> None:
    browser.driver.get(_data_url(_INACCESSIBLE))

    violations = axe_audit(browser.driver)

    assert {(v.rule, v.impact) for v in violations} >= {
        ("image-alt", "critical"),
        ("button-name", "critical"),
    }
    assert all(v.impact in {"serious", "critical"} for v in violations)
    [image] = [v for v in violations if v.rule == "image-alt"]
    assert image.targets == ("img",)


def test_waits_return_at_once_and_say_what_they_saw_on_timeout(browser: Browser) -> None:
    browser.driver.get(_data_url(_INACCESSIBLE))

    assert wait_for(browser.driver, "#hello", text="hell").tag_name == "p"
    wait_gone(browser.driver, "#absent")
    with pytest.raises(TimeoutException, match=r"#hello matched 'hello'"):
        wait_for(browser.driver, "#hello", text="goodbye", timeout=0.5)
    with pytest.raises(TimeoutException, match=r"waited 0.5s for no #hello"):
        wait_gone(browser.driver, "#hello", timeout=0.5)


def test_a_failure_saves_screenshot_console_and_page(browser: Browser, tmp_path: Path) -> None:
    browser.driver.get(_data_url(_INACCESSIBLE))
    browser.driver.execute_script("console.error('something broke')")

    saved = browser.save_artifacts("test_x.py::test_y[a/b]", tmp_path)

    assert [path.name for path in saved] == [
        "test_x.py_test_y_a_b.png",
        "test_x.py_test_y_a_b.html",
        "test_x.py_test_y_a_b.log",
    ]
    png, html, log = saved
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert 'id="hello"' in html.read_text()
    assert "SEVERE [console-api]" in log.read_text()
    assert "something broke" in log.read_text()


# -- the console's page ----------------------------------------------------------


def test_the_console_loads_without_errors_and_passes_the_audit(
    browser: Browser, console_url: str
) -> None:
    browser.driver.get(console_url)

    wait_for(browser.driver, "body")
    assert "KServe" in browser.driver.title
    assert browser.driver.current_url == console_url
    assert browser.severe() == []
    assert [str(v) for v in axe_audit(browser.driver)] == []


def test_the_console_is_served_with_the_security_headers(console_url: str) -> None:
    answer = httpx.get(console_url, timeout=30)

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    policy = [part.strip() for part in answer.headers["content-security-policy"].split(";")]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"


def test_chromium_enforces_the_consoles_policy_on_inline_script(
    browser: Browser, console_url: str
) -> None:
    browser.driver.get(console_url)
    wait_for(browser.driver, "body")

    # The page's own view: a script element added with inline code must not run.
    ran = browser.driver.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.inlineRan = true';"
        "document.head.append(s);"
        "return window.inlineRan === true;"
    )

    assert ran is False
    refused = [entry for entry in browser.severe() if entry.source == "security"]
    assert refused, browser.console()
    assert "script-src 'self'" in refused[0].message
