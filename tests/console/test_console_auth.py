"""The console of a service with `--auth-clients`: no page and no action without a token, a
read-only client sees and cannot act, a forged form is refused; and `--console=false`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.browser import Browser, browser_for, screenshots  # noqa: F401  (a fixture)
from tests.support.service import FlowsProcess, serving

ADMIN = ("admin", "admin-secret")
READER = ("reader", "reader-secret")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    clients = f"{ADMIN[0]}:{ADMIN[1]},{READER[0]}:{READER[1]}:orchestration:read"
    yield from serving(FlowsProcess(tmp_path_factory.mktemp("console-auth") / "data", "--auth-clients", clients))


@pytest.fixture(scope="module")
def browser(service: FlowsProcess, screenshots: Path) -> Iterator[Browser]:  # noqa: F811
    yield from browser_for(service.url, screenshots)


@pytest.fixture(scope="module")
def workflow_id(service: FlowsProcess) -> str:
    config = {"name": "guarded", "stages": [{"noop": {}}]}
    created = httpx.post(f"{service.url}/workflows", json=config, headers=_bearer(service), timeout=10)
    return str(created.json()["data"]["id"])


def _log_in(browser: Browser, client: tuple[str, str]) -> None:
    browser.driver.delete_all_cookies()
    browser.open("/console/login")
    browser.fill("input[name=client_id]", client[0])
    browser.fill("input[name=client_secret]", client[1])
    browser.submit("form:has(input[name=client_id])")


def _session(browser: Browser) -> httpx.Client:
    """An HTTP client holding the browser's cookies, to send what no page of the console offers."""
    cookies = {cookie["name"]: cookie["value"] for cookie in browser.driver.get_cookies()}
    return httpx.Client(base_url=browser.base_url, cookies=cookies, headers={"Origin": browser.base_url}, timeout=10)


def test_no_page_without_a_token(browser: Browser, service: FlowsProcess, workflow_id: str) -> None:
    browser.driver.delete_all_cookies()
    for path in ("/", "/api/orchestration/", "/console/workflows", f"/console/workflows/{workflow_id}", "/console/sandbox"):
        browser.open(path)
        assert browser.driver.current_url.endswith("/console/login"), path
        assert browser.find("h1").text == "Log in"
        assert "guarded" not in browser.text("body")
    browser.screenshot("login")
    assert browser.console_errors() == []


def test_no_action_without_a_token(service: FlowsProcess, workflow_id: str) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as anonymous:
        anonymous.get("/console/login")  # a CSRF cookie, but no token
        csrf = anonymous.cookies["flows_console_csrf"]
        answer = anonymous.post(f"/console/workflows/{workflow_id}/run", data={"csrf": csrf})
        assert answer.status_code == 303 and answer.headers["location"].endswith("/console/login")
    assert (
        httpx.get(f"{service.url}/v2/instances", params={"workflowID": workflow_id}, headers=_bearer(service)).json()["cursor"]["data"]
        == []
    )


def _bearer(service: FlowsProcess) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token(*ADMIN)}"}


def test_a_wrong_secret_is_refused_without_saying_which_part_is_wrong(browser: Browser) -> None:
    _log_in(browser, (ADMIN[0], "not-the-secret"))
    assert browser.text(".problem") == "unknown client or wrong secret"
    assert browser.find("input[name=client_id]").get_attribute("value") == ADMIN[0]
    assert not browser.driver.get_cookie("flows_console_token")


def test_the_token_cookie_is_http_only_and_strict(browser: Browser) -> None:
    _log_in(browser, ADMIN)
    cookie = browser.driver.get_cookie("flows_console_token")
    assert cookie is not None and cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert browser.driver.execute_script("return document.cookie") == ""


def test_a_read_only_client_sees_everything_and_no_action(browser: Browser, service: FlowsProcess, workflow_id: str) -> None:
    _log_in(browser, READER)
    assert "read only" in browser.text("header")
    browser.open("/console/workflows")
    assert "guarded" in browser.text()
    assert not browser.all("a[href$='/console/workflows/new']")
    browser.open(f"/console/workflows/{workflow_id}")
    assert browser.text(".flow .summary") == "do nothing"
    assert not browser.all("main form")
    browser.open("/console/triggers")
    assert not browser.all("main form")
    browser.screenshot("read-only-triggers")
    # The sandbox's own scopes decide what its page shows: this client has none of them.
    browser.open("/console/sandbox")
    assert "ledger:read" in browser.text(".problem")

    # What the page does not offer cannot be forged either.
    with _session(browser) as session:
        csrf = session.cookies["flows_console_csrf"]
        answer = session.post(f"/console/workflows/{workflow_id}/run", data={"csrf": csrf})
    assert answer.status_code == 403 and "orchestration:write" in answer.text
    assert (
        httpx.get(f"{service.url}/v2/instances", params={"workflowID": workflow_id}, headers=_bearer(service)).json()["cursor"]["data"]
        == []
    )
    assert browser.console_errors() == []


def test_a_client_that_may_write_acts_and_a_forged_form_is_refused(browser: Browser, service: FlowsProcess, workflow_id: str) -> None:
    _log_in(browser, ADMIN)
    browser.open("/console/sandbox")
    assert "Accounts of default" in browser.text() and not browser.all(".problem")
    browser.open(f"/console/workflows/{workflow_id}")
    browser.submit("form[action$='/run']")
    browser.eventually(lambda: browser.text("#timeline .summary-line .status") == "SUCCEEDED", what="the run to succeed")

    with _session(browser) as session:
        csrf = session.cookies["flows_console_csrf"]
        # Another site's page posting with the browser's cookies: no CSRF field, or another origin.
        assert session.post(f"/console/workflows/{workflow_id}/run", data={}).status_code == 403
        assert session.post(f"/console/workflows/{workflow_id}/run", data={"csrf": "guess"}).status_code == 403
        foreign = session.post(f"/console/workflows/{workflow_id}/run", data={"csrf": csrf}, headers={"Origin": "https://evil.example"})
        assert foreign.status_code == 403
        assert session.post(f"/console/workflows/{workflow_id}/delete", json={"csrf": csrf}).status_code == 403
    listed = httpx.get(f"{service.url}/v2/instances", params={"workflowID": workflow_id}, headers=_bearer(service)).json()
    assert len(listed["cursor"]["data"]) == 1

    browser.submit("form[action$='/console/logout']")
    assert browser.find("h1").text == "Log in"
    browser.open("/console/workflows")
    assert browser.driver.current_url.endswith("/console/login")


def test_the_api_still_wants_its_bearer_token(service: FlowsProcess) -> None:
    assert httpx.get(f"{service.url}/workflows", timeout=10).status_code == 401
    assert httpx.get(f"{service.url}/api/orchestration/v2/workflows", timeout=10).status_code == 401


def test_console_false_serves_the_api_alone(tmp_path: Path) -> None:
    flows = FlowsProcess(tmp_path / "data", "--console=false").start()
    try:
        for path in ("/", "/api/orchestration/", "/console/workflows", "/console/static/console.css"):
            answer = httpx.get(f"{flows.url}{path}", timeout=10)
            assert answer.status_code == 404 and answer.json()["errorCode"] == "NOT_FOUND", path
        assert httpx.get(f"{flows.url}/workflows", timeout=10).status_code == 200
    finally:
        flows.stop()
