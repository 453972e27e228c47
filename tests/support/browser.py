"""Headless Chromium for the console's browser tests, driven over WebDriver.

Debian's ``chromium`` through Debian's ``chromedriver`` (packages of the same
build, installed by ``make browser``; Selenium Manager is never asked for a
download). ``Browser.start`` fails with what to install when either is missing:
a browser test fails then, it never skips.

- ``wait_for`` / ``wait_gone`` wait on the DOM with ``WebDriverWait`` (no sleeps)
  and say on timeout what the page showed instead.
- ``axe_audit`` injects axe-core (``tests/browser/node_modules``, from the
  lockfile) and returns the serious and critical violations. WebDriver's
  ``execute_script`` runs outside the page's Content-Security-Policy, so the
  console's strict ``script-src 'self'`` does not block the injection (nor an
  ``eval`` in such a script: that proves nothing about the page's CSP).
- ``Browser.console`` collects the browser console (``goog:loggingPrefs``);
  ``Browser.save_artifacts`` writes a screenshot, the console and the page's
  HTML on a test's failure (the ``browser`` fixture in the integration tier's
  conftest does so).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = REPO_ROOT / ".test-artifacts" / "browser"
# The page's viewport (issue 18: usable at 1280x800 and at 390 px wide).
VIEWPORT = (1280, 800)
# Long enough for a model to go Ready on the local cluster (about a second) on a
# busy 2-core machine; a wait returns as soon as its condition holds.
WAIT_SECONDS = 20.0
# The impacts that fail an audit (issue 18: zero serious or critical violations).
FAILING_IMPACTS = ("serious", "critical")
_INSTALL = "run `make browser` (as root it apt-gets Debian's chromium and chromium-driver)"
_CSS = By.CSS_SELECTOR
_GUESSED_FAVICON = re.compile(r"https?://[^/\s]+/favicon\.ico - Failed to load resource")
T = TypeVar("T")


class BrowserMissing(RuntimeError):
    """Chromium, its driver or axe-core is not installed; the message says how to install it."""


@dataclass(frozen=True)
class ConsoleEntry:
    """One line of the browser console (or a page error Chromium logged there)."""

    level: str  # SEVERE, WARNING, INFO, DEBUG
    source: str  # console-api, javascript, network, security, …
    message: str

    def __str__(self) -> str:
        return f"{self.level} [{self.source}] {self.message}"


@dataclass(frozen=True)
class Violation:
    """One axe-core rule the page breaks, with the elements that break it."""

    rule: str
    impact: str
    help: str
    targets: tuple[str, ...]  # CSS selectors of the offending elements

    def __str__(self) -> str:
        return f"{self.impact} {self.rule}: {self.help} ({', '.join(self.targets)})"


class Browser:
    """A headless Chromium (fresh profile, 1280x800 viewport) and what its console printed."""

    def __init__(self, driver: webdriver.Chrome) -> None:
        self.driver = driver
        self._console: list[ConsoleEntry] = []

    @classmethod
    def start(cls, *, chromium: Path = CHROMIUM, chromedriver: Path = CHROMEDRIVER) -> Browser:
        """A new browser; ``quit`` it.

        Raises:
            BrowserMissing: ``chromium`` or ``chromedriver`` is not an executable file.
        """
        for path in (chromium, chromedriver):
            if not path.is_file():
                raise BrowserMissing(f"the browser tests need {path}, which is missing: {_INSTALL}")
        options = webdriver.ChromeOptions()
        options.binary_location = str(chromium)
        for argument in (
            "--headless=new",
            # CI runs as root, where Chromium's sandbox cannot start.
            "--no-sandbox",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            # Containers have a small /dev/shm; Chromium crashes when it fills.
            "--disable-dev-shm-usage",
            "--lang=en-US",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=str(chromedriver))
        driver = webdriver.Chrome(service=service, options=options)
        set_viewport(driver, *VIEWPORT)
        return cls(driver)

    def quit(self) -> None:
        """End the browser and its driver."""
        self.driver.quit()

    def console(self) -> list[ConsoleEntry]:
        """Every console entry since the browser started (Chromium hands each out once)."""
        raw: list[dict[str, Any]] = self.driver.get_log("browser")  # type: ignore[no-untyped-call]
        self._console.extend(
            ConsoleEntry(str(entry["level"]), str(entry.get("source", "")), str(entry["message"]))
            for entry in raw
        )
        return list(self._console)

    def severe(self) -> list[ConsoleEntry]:
        """The console's errors: uncaught exceptions, CSP refusals, failed loads.

        Not a failed ``/favicon.ico`` at the origin's root: Chromium asks for it
        on its own when a page names no icon (the console's files are under /ui/).
        """
        return [
            entry
            for entry in self.console()
            if entry.level == "SEVERE" and not _GUESSED_FAVICON.match(entry.message)
        ]

    def save_artifacts(self, name: str, directory: Path = ARTIFACTS) -> list[Path]:
        """Write ``<name>.png`` (screenshot), ``.log`` (console) and ``.html`` in ``directory``.

        ``name`` is made safe as a file name. Returns the files written; a
        browser that has crashed yields what could still be read.
        """
        directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")[:150] or "test"
        written: list[Path] = []
        screenshot = directory / f"{stem}.png"
        html = directory / f"{stem}.html"
        log = directory / f"{stem}.log"
        lines: list[str] = []
        try:
            lines.append(f"url: {self.driver.current_url}")
            if self.driver.save_screenshot(str(screenshot)):
                written.append(screenshot)
            html.write_text(self.driver.page_source)
            written.append(html)
            lines.extend(str(entry) for entry in self.console())
        except WebDriverException as e:
            lines.append(f"the browser could not be read: {e.msg}")
        log.write_text("\n".join(lines) + "\n")
        written.append(log)
        return written


def wait_for(
    driver: webdriver.Chrome,
    css: str,
    *,
    text: str | None = None,
    attributes: Mapping[str, str] | None = None,
    timeout: float = WAIT_SECONDS,
) -> WebElement:
    """The first element matching ``css`` that is displayed and, if ``text`` is
    given, whose visible text contains it, and if ``attributes`` are, that has
    each with that value; waits up to ``timeout`` seconds. (Read an attribute
    here rather than from the element returned: the console re-renders as its
    stream updates, and a kept element can go stale.)

    Raises:
        TimeoutException: none came; the message quotes what ``css`` matched.
    """
    wanted_attributes = dict(attributes or {})

    def found(d: webdriver.Chrome) -> WebElement | Literal[False]:
        for element in d.find_elements(_CSS, css):
            if (
                element.is_displayed()
                and (text is None or text in element.text)
                and all(element.get_attribute(k) == v for k, v in wanted_attributes.items())
            ):
                return element
        return False

    wanted = css if text is None else f"{css} containing {text!r}"
    if wanted_attributes:
        wanted += f" with {wanted_attributes}"
    return _wait(driver, found, wanted, css, timeout)


def wait_gone(driver: webdriver.Chrome, css: str, *, timeout: float = WAIT_SECONDS) -> None:
    """Return once no element matches ``css`` (e.g. the row of a deleted model).

    Raises:
        TimeoutException: some still matched after ``timeout`` seconds.
    """
    _wait(driver, lambda d: not d.find_elements(_CSS, css), f"no {css}", css, timeout)


def _wait(
    driver: webdriver.Chrome,
    condition: Callable[[webdriver.Chrome], T | Literal[False]],
    wanted: str,
    css: str,
    timeout: float,
) -> T:
    waiting = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
    try:
        return waiting.until(condition)
    except TimeoutException:
        seen = _describe(driver.find_elements(_CSS, css))
        raise TimeoutException(f"waited {timeout:g}s for {wanted}; {css} matched {seen}") from None


def _describe(elements: Sequence[WebElement]) -> str:
    if not elements:
        return "nothing"
    try:
        shown = [
            f"{element.text[:200]!r}{'' if element.is_displayed() else ' (hidden)'}"
            for element in elements[:5]
        ]
    except StaleElementReferenceException:
        return f"{len(elements)} elements, changing"
    more = f" and {len(elements) - 5} more" if len(elements) > 5 else ""
    return ", ".join(shown) + more


def set_viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """Size the window so that the page's viewport is ``width`` x ``height`` CSS pixels
    (the window's own frame takes some of its size, even headless)."""
    inner: list[int] = driver.execute_script("return [innerWidth, innerHeight]")
    outer = driver.get_window_size()
    driver.set_window_size(width + outer["width"] - inner[0], height + outer["height"] - inner[1])


def prefer_color_scheme(driver: webdriver.Chrome, scheme: Literal["light", "dark"]) -> None:
    """Make the page see ``prefers-color-scheme: scheme`` (the console follows the system)."""
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": scheme}]},
    )


@functools.cache
def _axe_source() -> str:
    if not AXE.is_file():
        raise BrowserMissing(f"the accessibility audit needs {AXE}, which is missing: {_INSTALL}")
    return AXE.read_text()


# Runs in the page: WebDriver passes the callback as the last argument.
_RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ["violations"]}).then(
  (results) => done({violations: results.violations}),
  (error) => done({error: String(error)}),
);
"""


def axe_audit(
    driver: webdriver.Chrome, *, impacts: Sequence[str] = FAILING_IMPACTS
) -> list[Violation]:
    """The page's axe-core violations (WCAG 2 A/AA and best practices) of ``impacts``.

    axe-core is injected into the current page once (a navigation needs it again).

    Raises:
        BrowserMissing: axe-core is not installed.
        RuntimeError: axe-core failed in the page.
    """
    if not driver.execute_script("return typeof window.axe === 'object'"):
        driver.execute_script(_axe_source())
    result: dict[str, Any] = driver.execute_async_script(_RUN_AXE)
    if "error" in result:
        raise RuntimeError(f"axe-core failed in the page: {result['error']}")
    return [
        Violation(
            rule=str(violation["id"]),
            impact=str(violation["impact"]),
            help=str(violation["help"]),
            targets=tuple(
                " ".join(str(part) for part in node["target"]) for node in violation["nodes"]
            ),
        )
        for violation in result["violations"]
        if violation["impact"] in impacts
    ]
