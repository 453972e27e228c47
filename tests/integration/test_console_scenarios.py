"""What a person does in the console (issue 18, "Tested in a real browser"): each
scenario in Debian's headless Chromium (``browser``) against the root function
served over HTTP on the session's local KServe cluster (``console_url``), and
each asserting what the page shows.

Models the scenarios need but do not make through the page are deployed through
the API itself (``_deploy``), as a colleague or CI would. The pages learn of every
change from their watch streams: no test reloads a page to see one (``_no_reload``
proves it where it counts). Waits are explicit (``support.browser.wait_for``).

With ``KSERVE_FUNCTIONS_WRITE_SCREENSHOTS=1`` the tests that show the README's
pictures also write them to ``docs/console/`` (1280x800, light); otherwise they
write nothing into the tree.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx
import pytest
from controlplane.cluster import ControlPlane
from kserve_functions.core.resources import INFERENCE_SERVICE
from kubernetes import client
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select
from support import workloads
from support.browser import (
    REPO_ROOT,
    VIEWPORT,
    Browser,
    axe_audit,
    prefer_color_scheme,
    set_viewport,
    wait_for,
    wait_gone,
)
from support.functions import ServedFunction
from support.pod_logs import append_pod_log, write_pod_log
from support.rbac import model_token
from support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

XSS = "<img src=x onerror=alert(1)>"
STORAGE = "gs://kfserving-examples/models/sklearn/1.0/model"
CONTAINER = "kserve-container"
SCREENSHOTS = REPO_ROOT / "docs" / "console"
WRITE_SCREENSHOTS = os.environ.get("KSERVE_FUNCTIONS_WRITE_SCREENSHOTS") == "1"
# A roll-out, a canary or a deletion on the local cluster takes seconds; on a busy
# 2-core machine, more (a canary once took over 60 s to be reported ready while a
# profiler ran beside the tests).
SLOW = 120.0
CSS = By.CSS_SELECTOR


# -- the API, as a colleague uses it ------------------------------------------


@pytest.fixture
def api_url(console_url: str) -> str:
    """The API the console at ``console_url`` calls (its own origin)."""
    return console_url.removesuffix("/ui/")


def _deploy(api_url: str, body: dict[str, Any], *, wait: bool = True) -> dict[str, Any]:
    """``POST /deploy`` (``wait``: until the model is ready); the answer."""
    params = {"wait": "true", "timeout": "60"} if wait else {}
    answer = httpx.post(f"{api_url}/deploy", params=params, json=body, timeout=90)
    assert answer.status_code in {200, 201}, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _model(api_url: str, namespace: str, name: str) -> dict[str, Any]:
    answer = httpx.get(f"{api_url}/models/{namespace}/{name}", timeout=30)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


# -- the page ---------------------------------------------------------------------


def _row(namespace: str, name: str) -> str:
    return f'table#models-table tbody tr[data-model="{namespace}/{name}"]'


def _badge(where: str, state: str) -> str:
    return f'{where} .state-badge[data-state="{state}"]'


DETAIL_STATE = "#detail-state"


def _list(d: WebDriver, console_url: str, namespace: str) -> None:
    """Open the models page on ``namespace``, chosen in its namespace picker."""
    d.get(console_url + "#/models")
    wait_for(d, f'select#namespace option[value="{namespace}"]')
    Select(wait_for(d, "select#namespace")).select_by_value(namespace)
    wait_for(d, "#stream-status", text="live")


def _open_detail(d: WebDriver, console_url: str, namespace: str, name: str) -> None:
    d.get(f"{console_url}#/models/{namespace}/{name}")
    wait_for(d, "#detail-page #detail-title", text=name)
    wait_for(d, "#stream-status", text="live")


def _field(d: WebDriver, name: str) -> Any:
    return wait_for(d, f'form#deploy-form [name="{name}"]')


def _fill(d: WebDriver, name: str, value: str) -> None:
    field = _field(d, name)
    field.clear()
    field.send_keys(value)


def _confirm(d: WebDriver) -> str:
    """Confirm the open dialog; what it said would happen."""
    said: str = wait_for(d, "dialog#confirm #confirm-text").text
    wait_for(d, "dialog#confirm button#confirm-ok").click()
    wait_gone(d, "dialog#confirm[open]")
    return said


def _changes(d: WebDriver) -> list[tuple[str, str]]:
    """The detail page's "state changes seen since this page opened": (state, text) each."""
    return [
        (str(li.find_element(CSS, ".state-badge").get_attribute("data-state")), li.text)
        for li in d.find_elements(CSS, "ol#changes > li")
    ]


def _no_reload(d: WebDriver) -> Callable[[], None]:
    """Mark the loaded page; the returned check fails if it has been loaded again since."""
    d.execute_script("window.__sameDocument = true")

    def same_document() -> None:
        assert d.execute_script("return window.__sameDocument === true"), "the page was reloaded"

    return same_document


def _no_alert(d: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        d.switch_to.alert.text  # noqa: B018 -- reading it is how WebDriver asks


def _readme_screenshot(d: WebDriver, name: str, *, top: str | None = None) -> None:
    """Write ``docs/console/<name>`` (1280x800, light) when asked to; else nothing.

    ``top``: the element scrolled to the top of the picture (else the page's top).
    """
    if not WRITE_SCREENSHOTS:
        return
    set_viewport(d, *VIEWPORT)
    prefer_color_scheme(d, "light")
    d.execute_script(
        "document.activeElement?.blur();"
        "const top = arguments[0] && document.querySelector(arguments[0]);"
        "window.scrollTo(0, top ? top.getBoundingClientRect().top + scrollY - 12 : 0);",
        top,
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    assert d.save_screenshot(str(SCREENSHOTS / name))


# -- deploy, list, detail -----------------------------------------------------------


def test_a_model_deployed_through_the_form_is_followed_until_ready_without_a_reload(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    d = browser.driver
    d.get(console_url + "#/deploy")
    same_page = _no_reload(d)
    # As the server logs it at start under AUTH_MODE=none.
    wait_for(d, "#auth-banner", text="AUTH_MODE=none: callers are NOT authenticated")
    _fill(d, "name", "iris")
    _fill(d, "namespace", namespace)
    _fill(d, "image", "registry.example.com/team/iris:1")
    wait_for(d, "#deploy-submit").click()

    # The model's page follows it from its stream until KServe says it is ready.
    wait_for(d, "#detail-page #detail-title", text="iris")
    wait_for(d, "#notice", text=f"Deployed iris in {namespace} as revision 1")
    wait_for(d, _badge(DETAIL_STATE, "ready"), timeout=SLOW)
    wait_for(d, "ol#changes > li", text="ready generation 1")
    # Whether the page opened before KServe had a pod ready depends on the
    # machine's load (on a loaded one the first change it shows is already
    # "ready"); below, the list shows a model deployed meanwhile appear and become
    # ready from its stream, without a reload.
    wait_for(d, 'ol#revisions > li[data-revision="1"]', text="deploy")
    wait_for(d, "dl#detail-summary", text="registry.example.com/team/iris:1")

    # The list, reached by its link, shows it ready; a model deployed meanwhile by
    # someone else appears in it and becomes ready, all from the list's stream.
    wait_for(d, "#nav-models").click()
    Select(wait_for(d, "select#namespace")).select_by_value(namespace)
    wait_for(d, _badge(_row(namespace, "iris"), "ready"))
    wait_for(d, "#stream-status", text="live")
    _deploy(api_url, {"name": "wine", "namespace": namespace, "image": "r/wine:1"}, wait=False)
    wait_for(d, _row(namespace, "wine"))
    wait_for(d, _badge(_row(namespace, "wine"), "ready"), timeout=SLOW)
    wait_for(d, "#models-count", text="2 of 2 models")
    same_page()
    assert browser.severe() == []


def test_a_value_the_api_refuses_is_shown_next_to_its_field_and_nothing_is_applied(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    d = browser.driver
    d.get(console_url + "#/deploy")
    _fill(d, "name", "sentiment")
    _fill(d, "namespace", namespace)
    _fill(d, "image", "registry.example.com/nlp/sentiment:2")
    _fill(d, "minReplicas", "3")
    _fill(d, "maxReplicas", "1")
    wait_for(d, "#deploy-submit").click()

    error = wait_for(d, '.field-error[data-field="maxReplicas"]', text="below minReplicas 3")
    assert _field(d, "maxReplicas").get_attribute("aria-invalid") == "true"
    assert error.text
    wait_for(d, "#problem", text="The deploy was refused")
    assert "#/deploy" in d.current_url
    assert httpx.get(f"{api_url}/models/{namespace}/sentiment", timeout=30).status_code == 404
    _readme_screenshot(d, "deploy-error.png")

    # Fixed, the same form deploys it.
    _fill(d, "maxReplicas", "3")
    wait_for(d, "#deploy-submit").click()
    wait_for(d, "#detail-page #detail-title", text="sentiment")


def test_the_list_shows_each_state_with_its_reason_and_a_crash_loop_as_failed(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    message = "model file /mnt/models/model.joblib is corrupt"
    crashing = workloads.crash_looping(message, exit_code=3)
    _deploy(api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1"})
    for body in (
        {"name": "fraud-detector", "image": "r/fraud:7", **crashing},
        {"name": "llm", "image": "r/llm:1", "resources": {"limits": {"nvidia.com/gpu": "16"}}},
        {"name": "sentiment", "image": "r/sentiment:2"},
    ):
        _deploy(api_url, {"namespace": namespace, **body}, wait=False)
    d = browser.driver
    _list(d, console_url, namespace)
    wait_for(d, _badge(_row(namespace, "sentiment"), "ready"), timeout=SLOW)
    stopped = httpx.post(f"{api_url}/models/{namespace}/sentiment/stop", timeout=30)
    assert stopped.status_code == 200, stopped.text

    failed = _row(namespace, "fraud-detector")
    wait_for(d, _badge(failed, "failed"), timeout=SLOW)
    wait_for(d, f"{failed} .reason", text=f"{message} (exit code 3)")
    wait_for(d, _badge(_row(namespace, "sentiment"), "stopped"))
    # The GPU request no node has: starting while the list knows only what KServe
    # reported, failed with the scheduler's refusal once it has read the pods (the
    # API reads them when KServe writes the model's status again, which it may or
    # may not have done by now). Never ready, and never failed for another reason.
    llm = _row(namespace, "llm")
    shown = wait_for(d, f"{_badge(llm, 'starting')}, {_badge(llm, 'failed')}")
    if shown.get_attribute("data-state") == "failed":
        wait_for(d, f"{llm} .reason", text="Unschedulable: 0/3 nodes are available")
    wait_for(d, _badge(_row(namespace, "iris"), "ready"))
    assert wait_for(d, f"{_row(namespace, 'iris')} .url").text.startswith("http")
    _readme_screenshot(d, "models.png")
    # Every state's badge and reason, readable in either scheme at either size.
    assert not (found := _audit(d, "models in every state")), "\n".join(found)

    # Its page says the same, in words.
    wait_for(d, f"{failed} a.model-link").click()
    wait_for(d, _badge(DETAIL_STATE, "failed"))
    wait_for(d, "#detail-reason", text=f"{message} (exit code 3)")
    assert browser.severe() == []


def test_edit_rolls_out_the_new_generation_and_rollback_brings_revision_1_back(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    _deploy(
        api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1", "envs": {"A": "1"}}
    )
    d = browser.driver
    _open_detail(d, console_url, namespace, "iris")
    same_page = _no_reload(d)
    wait_for(d, _badge(DETAIL_STATE, "ready"))

    # Edit opens the form filled with the newest revision's request.
    wait_for(d, "#action-edit").click()
    wait_for(d, "#deploy-page #deploy-title", text="Edit iris")
    assert _field(d, "image").get_attribute("value") == "r/iris:1"
    assert _field(d, "envs").get_attribute("value") == "A=1"
    assert _field(d, "name").get_attribute("readonly") is not None
    _fill(d, "image", "r/iris:2")
    wait_for(d, "#deploy-submit").click()

    wait_for(d, "#notice", text="Updated iris")
    wait_for(d, "ol#changes > li", text="ready generation 2", timeout=SLOW)
    wait_for(d, 'ol#revisions > li[data-revision="2"]', text="deploy")
    # Everything the page saw of generation 2 was on the way to ready.
    seen = [state for state, text in _changes(d) if "generation 2" in text]
    assert set(seen) <= {"updating", "starting", "ready"}, seen

    wait_for(d, 'button.rollback[data-revision="1"]').click()
    said = _confirm(d)
    assert "revision 1" in said
    assert "r/iris:1" in said
    wait_for(d, "#notice", text="Rolled back iris to revision 1: now revision 3")
    wait_for(d, 'ol#revisions > li[data-revision="3"]', text="rollback of revision 1")
    wait_for(d, "ol#changes > li", text="ready generation 3", timeout=SLOW)
    wait_for(d, "dl#detail-summary", text="r/iris:1")
    same_page()
    assert _model(api_url, namespace, "iris")["image"] == "r/iris:1"


def test_stop_resume_and_delete_each_confirmed_and_shown(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    _deploy(api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1"})
    d = browser.driver
    _open_detail(d, console_url, namespace, "iris")
    wait_for(d, _badge(DETAIL_STATE, "ready"))

    wait_for(d, "#action-stop").click()
    assert "Stop iris in" in _confirm(d)
    wait_for(d, _badge(DETAIL_STATE, "stopped"))
    wait_for(d, "#notice", text="Stop: done")
    wait_for(d, "#action-resume").click()
    _confirm(d)
    wait_for(d, _badge(DETAIL_STATE, "ready"), timeout=SLOW)
    states = [state for state, _ in _changes(d)]
    assert states[0] == "ready"
    assert states[-1] == "ready"
    assert "stopped" in states, states

    # Cancel does nothing; confirm deletes, and the list no longer shows it.
    wait_for(d, "#action-delete").click()
    wait_for(d, "dialog#confirm button#confirm-cancel").click()
    wait_gone(d, "dialog#confirm[open]")
    assert _model(api_url, namespace, "iris")["name"] == "iris"
    wait_for(d, "#action-delete").click()
    said = _confirm(d)
    assert f"Delete iris in {namespace}: its predictor, service and 3 revisions go" in said
    wait_for(d, "#models-page")
    wait_for(d, "#notice", text=f"Deleted iris in {namespace}")
    wait_for(d, "#stream-status", text="live")
    wait_gone(d, _row(namespace, "iris"), timeout=SLOW)


def test_a_canary_at_20_percent_is_shown_beside_stable_and_promoted(
    browser: Browser, console_url: str, api_url: str, namespace: str
) -> None:
    stable = {"name": "iris", "namespace": namespace, "image": "r/iris:1", "storageUri": STORAGE}
    _deploy(api_url, stable)
    _deploy(api_url, {**stable, "image": "r/iris:2"})
    _deploy(
        api_url,
        {**stable, "image": "r/iris:2", "canary": {"trafficPercent": 20, "image": "r/iris:3"}},
    )
    d = browser.driver
    _open_detail(d, console_url, namespace, "iris")

    wait_for(d, "#traffic-canary", text="20 %")
    wait_for(d, "#traffic-canary", text="r/iris:3")
    wait_for(d, "#traffic-stable", text="80 %")
    wait_for(d, "#traffic-stable", text="r/iris:2")
    wait_for(d, "#traffic-bar", attributes={"aria-label": "stable 80 %, canary 20 %"})
    wait_for(d, "#traffic-canary", text="Ready\nyes", timeout=SLOW)
    wait_for(d, 'ol#revisions > li[data-revision="3"]')
    wait_for(d, "ol#changes > li", text="ready generation 3")
    _readme_screenshot(d, "detail.png", top="#detail-title")
    assert not (found := _audit(d, "model with a canary")), "\n".join(found)

    wait_for(d, "#action-promote").click()
    said = _confirm(d)
    assert "takes all of the traffic (now 20 %)" in said
    wait_for(d, "#notice", text="Promote: done")
    wait_for(d, "#traffic-canary", text="No canary.")
    wait_for(d, "#traffic-stable", text="100 %")
    wait_for(d, "dl#detail-summary", text="r/iris:3")
    wait_gone(d, "#action-promote:not([hidden])")
    detail = _model(api_url, namespace, "iris")
    assert (detail["image"], detail.get("canary")) == ("r/iris:3", None)


# -- logs and what comes from the cluster -------------------------------------------


def test_logs_follow_live_and_cluster_strings_are_only_ever_text(
    browser: Browser,
    console_url: str,
    api_url: str,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
) -> None:
    body = {
        "name": "chatty",
        "namespace": namespace,
        "image": "r/m:1",
        "annotations": {"note": XSS},
    }
    _deploy(api_url, body)
    [pod] = workloads.pods(admin_api, namespace, "chatty")
    pod_name = pod["metadata"]["name"]
    hostile = "\x1b[31mERROR\x1b[0m <b>bold</b> <script>alert(2)</script> " + XSS
    write_pod_log(control_plane, namespace, pod_name, CONTAINER, ["loading", hostile])
    d = browser.driver
    _open_detail(d, console_url, namespace, "chatty")

    wait_for(d, "dl#detail-summary", text=f"note: {XSS}")
    wait_for(d, "pre#manifest", text=XSS)
    wait_for(d, "input#log-follow").click()
    output = "pre#log-output"
    wait_for(d, output, text="ERROR <b>bold</b> <script>alert(2)</script> " + XSS)
    append_pod_log(control_plane, namespace, pod_name, CONTAINER, ["appended while followed"])
    wait_for(d, output, text="loading\nERROR")
    wait_for(d, output, text="appended while followed")
    assert "\x1b" not in wait_for(d, output).text
    curl = wait_for(d, "#logs-section details.curl").find_element(CSS, "code")
    assert "follow=true" in str(curl.get_attribute("textContent"))

    assert d.find_elements(CSS, "img, b, #view script") == []
    _no_alert(d)
    assert browser.severe() == []


# -- bad input -------------------------------------------------------------------


def test_a_model_or_page_that_does_not_exist_is_a_not_found_page(
    browser: Browser, console_url: str, namespace: str
) -> None:
    d = browser.driver
    d.get(f"{console_url}#/models/{namespace}/nothing-here")

    wait_for(d, "#not-found", text="Model not found")
    wait_for(d, "#view", text=f"There is no model nothing-here in {namespace}")

    d.get(f"{console_url}#/nowhere/at/all")
    wait_for(d, "#not-found", text="No such page")
    wait_for(d, "#view a[href='#/models']").click()
    wait_for(d, "#models-page")


def test_a_dropped_stream_shows_reconnecting_then_resumes_without_losing_a_change(
    browser: Browser, api_url: str, namespace: str
) -> None:
    _deploy(api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1"})
    port = httpx.URL(api_url).port
    assert port is not None
    d = browser.driver
    with TcpProxy(port) as proxy:
        _list(d, f"http://127.0.0.1:{proxy.port}/ui/", namespace)
        wait_for(d, _badge(_row(namespace, "iris"), "ready"))
        same_page = _no_reload(d)
        # What the page's streams send when they open again (observed, not changed).
        d.execute_script(
            "window.__resumedFrom = [];"
            "const original = window.fetch;"
            "window.fetch = (url, init) => {"
            "  if (String(url).includes('watch=true'))"
            "    window.__resumedFrom.push(init?.headers?.['Last-Event-ID'] ?? null);"
            "  return original(url, init);"
            "};"
        )

        proxy.cut()
        wait_for(d, "#stream-status", text="reconnecting…")
        stopped = httpx.post(f"{api_url}/models/{namespace}/iris/stop", timeout=30)
        assert stopped.status_code == 200, stopped.text
        _deploy(api_url, {"name": "wine", "namespace": namespace, "image": "r/wine:1"}, wait=False)
        proxy.restore()

        wait_for(d, "#stream-status", text="live")
        wait_for(d, _badge(_row(namespace, "iris"), "stopped"))
        wait_for(d, _row(namespace, "wine"))
        same_page()
        resumed_from = d.execute_script("return window.__resumedFrom")
    assert resumed_from, "the stream was not opened again"
    assert all(resumed_from), f"a stream opened again without Last-Event-ID: {resumed_from}"


# -- signed in under AUTH_MODE=kubernetes ---------------------------------------------

READ_VERBS = ("get", "list", "watch")
RESOURCE = f"{INFERENCE_SERVICE.plural}.{INFERENCE_SERVICE.group}"


@pytest.fixture(scope="module")
def secured_console_url(
    function_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The console of a root function served with ``AUTH_MODE=kubernetes`` (a 1 s
    auth cache, so a revoked right is refused at once), for this module's tests."""
    env = {**function_env, "AUTH_MODE": "kubernetes", "AUTH_CACHE_TTL_SECONDS": "1"}
    log = tmp_path_factory.mktemp("console") / "root-kubernetes.log"
    function = ServedFunction("root", env, log)
    try:
        function.wait_ready()
        yield function.url + "/ui/"
    finally:
        function.stop()


def _sign_in(d: WebDriver, token: str) -> None:
    field = wait_for(d, "form#signin-form input#token")
    field.send_keys(token)
    wait_for(d, "button#signin-submit").click()


SignIn = Callable[[str, tuple[str, ...], str], str]


@pytest.fixture
def sign_in_beside_iris(
    browser: Browser,
    secured_console_url: str,
    api_url: str,
    control_plane: ControlPlane,
    admin_api: client.ApiClient,
    namespace: str,
) -> SignIn:
    """Model ``iris`` ready in ``namespace``, and a way to open the secured console at a
    route and sign in there as a new ServiceAccount granted verbs on models; its token."""
    _deploy(api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1"})

    def sign_in(service_account: str, verbs: tuple[str, ...], route: str) -> str:
        token = model_token(control_plane, admin_api, namespace, service_account, verbs)
        browser.driver.get(secured_console_url + route)
        _sign_in(browser.driver, token)
        return token

    return sign_in


def _stored(d: WebDriver) -> dict[str, list[str]]:
    """Every value of the tab's storage and cookies, where a token must not be (but one)."""
    found: dict[str, list[str]] = d.execute_script(
        "return {session: Object.values(sessionStorage), local: Object.values(localStorage),"
        " cookies: [document.cookie], url: [location.href]}"
    )
    return found


def test_signing_in_a_wrong_token_shows_a_clear_message_and_nothing_else(
    browser: Browser, secured_console_url: str
) -> None:
    d = browser.driver
    d.get(secured_console_url)

    wait_for(d, "form#signin-form", text="Bearer token")
    assert d.find_element(CSS, "#signin-error").text == ""
    _sign_in(d, "not-a-token")

    wait_for(d, "#signin-error", text="The token was not accepted")
    wait_for(d, "form#signin-form")
    assert d.find_elements(CSS, "#models-page, #detail-page, #deploy-page, table") == []
    assert not d.find_element(CSS, "#auth-banner").is_displayed()
    assert not d.find_element(CSS, "#signout").is_displayed()
    assert _stored(d)["session"] == []


def test_a_read_only_caller_sees_its_models_with_the_actions_disabled_and_why(
    browser: Browser, sign_in_beside_iris: SignIn, namespace: str
) -> None:
    token = sign_in_beside_iris("reader", READ_VERBS, "")
    user = f"system:serviceaccount:{namespace}:reader"
    d = browser.driver

    # Its one namespace is chosen for it; the list streams as for anyone.
    wait_for(d, "#who", text=f"signed in as {user}")
    wait_for(d, _badge(_row(namespace, "iris"), "ready"))
    assert Select(wait_for(d, "select#namespace")).first_selected_option.text == namespace
    wait_for(d, f"{_row(namespace, 'iris')} a.model-link").click()
    wait_for(d, _badge(DETAIL_STATE, "ready"))
    wait_for(d, "#stream-status", text="live")

    note = wait_for(d, "#actions-note", text="not allowed")
    assert f"Stop: not allowed — {user} may not patch {RESOURCE} in namespace {namespace}" in (
        note.text
    )
    assert f"Delete: not allowed — {user} may not delete {RESOURCE}" in note.text
    assert f"Edit, Roll back: not allowed — {user} may not create {RESOURCE}" in note.text
    for action in ("edit", "stop", "delete"):
        button = wait_for(d, f"#action-{action}")
        assert not button.is_enabled(), action
        assert button.get_attribute("aria-describedby") == "actions-note"
    # What RBAC refuses it, each read shows as the API's 403 says it.
    wait_for(
        d, "#events-section", text=f"Events: {user} may not list events in namespace {namespace}"
    )
    wait_for(d, "button#log-load").click()
    wait_for(
        d, "pre#log-output", text=f"No log: {user} may not get pods/log in namespace {namespace}"
    )

    # The token is in this tab's session storage only, and gone at sign-out.
    stored = _stored(d)
    assert token in stored["session"]
    assert all(token not in value for key in ("local", "cookies", "url") for value in stored[key])
    wait_for(d, "button#signout").click()
    wait_for(d, "#signin-error", text="Signed out.")
    assert token not in _stored(d)["session"]


def test_a_right_revoked_after_the_page_loaded_shows_the_apis_refusal(
    browser: Browser,
    sign_in_beside_iris: SignIn,
    secured_console_url: str,
    api_url: str,
    admin_api: client.ApiClient,
    namespace: str,
) -> None:
    verbs = (*READ_VERBS, "create", "patch", "delete")
    token = sign_in_beside_iris("editor", verbs, f"#/models/{namespace}/iris")
    d = browser.driver
    wait_for(d, _badge(DETAIL_STATE, "ready"))
    wait_for(d, "#action-stop:enabled")

    # The editor may now only read; the page still offers what it could do.
    role = "isvc-editor-editor"  # support.rbac's name for it
    client.RbacAuthorizationV1Api(admin_api).patch_namespaced_role(
        role,
        namespace,
        {
            "rules": [
                {
                    "apiGroups": [INFERENCE_SERVICE.group],
                    "resources": [INFERENCE_SERVICE.plural],
                    "verbs": list(READ_VERBS),
                }
            ]
        },
    )

    def refused() -> bool | None:
        answer = httpx.get(
            f"{secured_console_url.removesuffix('/ui/')}/access",
            params={"namespace": namespace},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        return True if not answer.json()["actions"]["stop"]["allowed"] else None

    workloads.wait_for(refused, what="RBAC refusing patch", timeout=10)
    wait_for(d, "#action-stop:enabled").click()
    _confirm(d)

    user = f"system:serviceaccount:{namespace}:editor"
    wait_for(
        d, "#problem", text=f"Stop iris: {user} may not patch {RESOURCE} in namespace {namespace}"
    )
    assert _model(api_url, namespace, "iris")["state"] == "ready"


# -- for people --------------------------------------------------------------------

# Issue 18: usable at 1280x800 and at 390 px wide; light and dark follow the system.
SIZES = ((1280, 800), (390, 844))
SCHEMES: tuple[Literal["light", "dark"], ...] = ("light", "dark")


def _audit(d: WebDriver, page: str) -> list[str]:
    """axe-core's serious and critical violations of the page as shown now, at each
    size in each colour scheme; and a page wider than the window (it must reflow)."""
    found: list[str] = []
    for width, height in SIZES:
        set_viewport(d, width, height)
        for scheme in SCHEMES:
            prefer_color_scheme(d, scheme)
            found += [f"{page}, {width} px, {scheme}: {v}" for v in axe_audit(d)]
        overflow = d.execute_script("return document.documentElement.scrollWidth - innerWidth")
        if overflow > 0:
            found.append(f"{page}, {width} px: {overflow} px wider than the window")
    set_viewport(d, *VIEWPORT)
    prefer_color_scheme(d, "light")
    return found


def test_every_page_passes_the_accessibility_audit_wide_and_narrow_light_and_dark(
    browser: Browser,
    console_url: str,
    secured_console_url: str,
    api_url: str,
    namespace: str,
) -> None:
    _deploy(api_url, {"name": "iris", "namespace": namespace, "image": "r/iris:1"})
    d = browser.driver
    found: list[str] = []

    _list(d, console_url, namespace)
    wait_for(d, _badge(_row(namespace, "iris"), "ready"))
    found += _audit(d, "models")

    wait_for(d, f"{_row(namespace, 'iris')} a.model-link").click()
    wait_for(d, _badge(DETAIL_STATE, "ready"))
    wait_for(d, "pre#manifest", text="apiVersion")
    wait_for(d, 'ol#revisions > li[data-revision="1"]')
    wait_for(d, "#events-section", text="Kubernetes events")
    found += _audit(d, "model")
    wait_for(d, "#action-delete").click()
    wait_for(d, "dialog#confirm[open]")
    found += _audit(d, "confirmation")
    wait_for(d, "button#confirm-cancel").click()

    d.get(console_url + "#/deploy")
    wait_for(d, "form#deploy-form")
    found += _audit(d, "deploy form")
    wait_for(d, "#deploy-submit").click()
    wait_for(d, '.field-error[data-field="name"]', text="required")
    found += _audit(d, "deploy form with errors")

    d.get(f"{console_url}#/models/{namespace}/nothing-here")
    wait_for(d, "#not-found")
    found += _audit(d, "not found")

    d.get(secured_console_url)
    _sign_in(d, "not-a-token")
    wait_for(d, "#signin-error", text="not accepted")
    found += _audit(d, "sign-in")

    assert not found, "\n".join(found)
    # The 422 and 401 answers asked for above are in the console too; nothing else.
    assert [entry for entry in browser.severe() if entry.source != "network"] == []
