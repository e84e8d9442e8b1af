"""The web console in a real browser, against a real `flows serve` (auth off): a person creates,
runs, watches and steers workflows, instances and triggers without writing any JSON request."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.browser import Browser, browser_for, screenshots  # noqa: F401  (a fixture)
from tests.support.service import FlowsProcess, serving

APPROVAL = """name: approval
stages:
  - wait_event: {event: "${event}"}
  - delay: {duration: 1s}
  - noop: {}
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    yield from serving(FlowsProcess(tmp_path_factory.mktemp("console") / "data"))


@pytest.fixture(scope="module")
def browser(service: FlowsProcess, screenshots: Path) -> Iterator[Browser]:  # noqa: F811
    yield from browser_for(service.url, screenshots)


@pytest.fixture(autouse=True)
def no_console_errors(browser: Browser) -> Iterator[None]:
    browser.console_errors()  # what earlier tests left
    yield
    assert browser.console_errors() == []


def _workflow(url: str, stages: list[dict[str, object]], name: str) -> str:
    response = httpx.post(f"{url}/workflows", json={"name": name, "stages": stages}, timeout=10)
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def _counts(browser: Browser, name: str) -> dict[str, str]:
    [row] = [row for row in browser.all("tbody tr") if row.find_element("css selector", "td[data-label=Name] a").text == name]
    labels = ("Stages", "Instances", "Running", "Failed")
    return {label: row.find_element("css selector", f"td[data-label={label}]").text for label in labels}


def _status(browser: Browser) -> str:
    return browser.text("#timeline .summary-line .status")


def test_the_home_page_is_the_console_at_the_root_and_under_the_gateway_prefix(browser: Browser) -> None:
    for root in ("", "/api/orchestration"):
        browser.open(f"{root}/")
        assert browser.driver.title == "Home · Flows console"
        assert browser.find("nav a[aria-current=page]").get_attribute("href").endswith(f"{root}/")
        assert browser.find("nav a[href$='/console/workflows']").get_attribute("href") == f"{browser.base_url}{root}/console/workflows"


def test_a_config_refused_by_the_api_shows_its_message_at_the_path_it_names(browser: Browser) -> None:
    browser.open("/console/workflows/new")
    browser.fill("#config", '{"name": "bad", "stages": [{"send": {"source": {"account": {}}}}]}')
    browser.submit("main form")
    assert browser.text("#problem .path") == "stages[0].send.source.account.id"
    assert "required" in browser.text("#problem")
    # What was pasted stays, to be fixed.
    assert "bad" in browser.find("#config").get_attribute("value")


def test_a_workflow_created_from_the_form_runs_waits_for_its_event_and_finishes(browser: Browser) -> None:
    browser.open("/console/workflows")
    browser.find("a.button[href$='/console/workflows/new']").click()
    browser.fill("#config", APPROVAL)
    browser.submit("main form")
    assert browser.text(".notice") == "Workflow created."
    assert [item.text for item in browser.all(".flow .summary")] == ["wait for the event “${event}”", "wait 1s", "do nothing"]

    browser.fill("input[name='var.event']", "approved")
    browser.submit("form[action$='/run']")
    assert browser.text(".notice") == "Instance started."
    # It waits: the first stage runs, live, the others are to come.
    browser.eventually(lambda: "RUNNING" in browser.text("#stage-0 .status"), what="the wait_event stage to run")
    assert [item.text for item in browser.all(".flow .stage-head .status")] == ["RUNNING", "PENDING", "PENDING"]
    assert browser.all("#timeline[data-poll]")

    browser.fill("form[action$='/events'] input[name=name]", "approved")
    browser.submit("form[action$='/events']")
    assert browser.text(".notice") == "Event sent."
    # Nobody reloads: the timeline follows the instance until it ends.
    browser.eventually(lambda: _status(browser) == "SUCCEEDED", what="the instance to succeed")
    assert [item.text for item in browser.all(".flow .stage-head .status")] == ["SUCCEEDED"] * 3
    assert not browser.all("form[action$='/abort']")
    browser.screenshot("instance-succeeded")

    browser.open("/console/workflows")
    assert _counts(browser, "approval") == {"Stages": "3", "Instances": "1", "Running": "0", "Failed": "0"}
    browser.screenshot("workflows")


def test_a_failing_send_retries_with_its_attempts_rising_until_aborted(browser: Browser, service: FlowsProcess) -> None:
    ledger = f"console{uuid.uuid4().hex[:8]}"
    assert httpx.post(f"{service.url}/api/ledger/v2/{ledger}", timeout=10).status_code in (200, 201, 204)
    send = {
        "send": {
            "source": {"account": {"id": "users:empty", "ledger": ledger}},
            "destination": {"account": {"id": "users:002", "ledger": ledger}},
            "amount": {"amount": 100, "asset": "USD/2"},
        }
    }
    workflow_id = _workflow(service.url, [send], "payout")
    browser.open(f"/console/workflows/{workflow_id}")
    assert browser.text(".flow .summary") == f"send 100 USD/2 from users:empty (ledger {ledger}) to users:002 (ledger {ledger})"
    browser.submit("form[action$='/run']")

    def attempts() -> int | None:
        cells = browser.all("#stage-0 .activity .attempts")
        return int(cells[0].text) if cells and "insufficient" in browser.text("#stage-0 .activity").lower() else None

    first = browser.eventually(attempts, what="a retried call")
    browser.eventually(lambda: (attempts() or 0) > first, timeout=30, what="the attempts to rise")
    assert "RETRYING" in browser.text("#stage-0 .activity")
    browser.screenshot("instance-retrying")

    browser.submit("form[action$='/abort']")
    assert browser.text(".notice") == "Instance aborted."
    assert _status(browser) == "FAILED"
    assert "Failed at stage 0 (send): canceled" in browser.text(".failure")
    assert "stage-failed" in browser.find("#stage-0").get_attribute("class")
    browser.screenshot("instance-failed")

    browser.open(f"/console/instances?workflow={workflow_id}&status=failed")
    assert len(browser.all("tbody tr")) == 1
    browser.open("/console/workflows")
    assert _counts(browser, "payout") == {"Stages": "1", "Instances": "1", "Running": "0", "Failed": "1"}
    browser.open(f"/console/instances?workflow={workflow_id}&status=running")
    assert not browser.all("tbody tr")


def test_a_trigger_created_and_tested_here_fires_on_a_sandbox_transaction(browser: Browser, service: FlowsProcess) -> None:
    _workflow(service.url, [{"noop": {}}], "on-deposit")
    destination = f"users:{uuid.uuid4().hex[:8]}"
    browser.open("/console/triggers")
    browser.fill("input[name=name]", "deposits")
    browser.fill("input[name=event]", "COMMITTED_TRANSACTIONS")
    browser.find(f"select[name=workflow] option:nth-child({len(browser.all('select[name=workflow] option'))})").click()
    assert browser.find("select[name=workflow] option:checked").text == "on-deposit"
    browser.fill("input[name=filter]", f'event.transactions[0].postings[0].destination == "{destination}"')
    browser.fill("textarea[name=vars]", "amount = string(event.transactions[0].postings[0].amount)")
    browser.submit("form[action$='/console/triggers']")
    assert browser.text(".notice") == "Trigger created."
    assert "It has not fired yet." in browser.text()

    payload = '{"transactions": [{"postings": [{"source": "world", "destination": "%s", "amount": 42, "asset": "USD/2"}]}]}'
    browser.fill("#payload", payload % destination)
    browser.submit("form[action$='/test']")
    assert "MATCHED" in browser.text("#test-result") and '"42"' in browser.text("#test-result")
    browser.fill("#payload", payload % "users:someone-else")
    browser.submit("form[action$='/test']")
    assert "UNMATCHED" in browser.text("#test-result")
    browser.fill("#payload", "[1, 2")
    browser.submit("form[action$='/test']")
    assert "payload" in browser.text(".problem")

    transaction = {"postings": [{"source": "world", "destination": destination, "amount": 42, "asset": "USD/2"}]}
    assert httpx.post(f"{service.url}/api/ledger/v2/default/transactions", json=transaction, timeout=10).status_code == 200

    def occurrence() -> list[object] | None:
        browser.driver.refresh()
        return browser.all(".occurrence a") or None

    [link] = browser.eventually(occurrence, what="the trigger's occurrence")
    browser.screenshot("trigger")
    instance_path = link.get_attribute("href").removeprefix(browser.base_url)
    link.click()
    browser.eventually(lambda: _status(browser) == "SUCCEEDED", what="the started instance to succeed")
    assert browser.text("#stage-0 .summary") == "do nothing"
    # The newest instance comes first.
    browser.open("/console/instances")
    assert browser.find("tbody tr td[data-label=Instance] a").get_attribute("href").endswith(instance_path)

    browser.open("/console/sandbox")
    assert destination in browser.text() and "42 USD/2" in browser.text()
    browser.screenshot("sandbox")


def test_hostile_input_is_shown_escaped_never_run(browser: Browser) -> None:
    browser.open("/console/workflows/new")
    browser.fill("#config", '{"name": "<img src=x onerror=alert(1)>", "stages": [{"noop": {}}]}')
    browser.submit("main form")
    assert browser.find("h1").text == "<img src=x onerror=alert(1)>"
    assert not browser.all("main img")
    browser.open("/console/instances?workflow=%00%3Cscript%3E&status=<b>&page=-1")
    assert "No instance" in browser.text()
    browser.open("/console/instances/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert "not found" in browser.text().lower()


def test_screenshots_of_the_main_pages(browser: Browser) -> None:
    for name, path in (
        ("home", "/"),
        ("instances", "/console/instances"),
        ("triggers", "/console/triggers"),
        ("new-workflow", "/console/workflows/new"),
    ):
        browser.open(path)
        browser.screenshot(name)
    browser.open("/console/workflows")
    browser.find("tbody tr a").click()
    browser.screenshot("workflow")


HOSTILE_FORMS = [
    ("/console/workflows", {"config": "a: [" * 5000}),
    ("/console/workflows", {"config": "{" * 5000}),
    ("/console/workflows", {"config": '{"name": "x\\u0000", "stages": []}'}),
    ("/console/workflows", {"config": "name: !!python/object:os.system x\nstages: []"}),
    ("/console/workflows", {"config": "x" * (2 * 1024 * 1024)}),
    ("/console/workflows", {"config": "name: a\x00b\nstages: []"}),
    ("/console/workflows/not-a-uuid/run", {"var.x": "1"}),
    ("/console/workflows/not-a-uuid/delete", {}),
    ("/console/instances/nope/events", {"name": "x" * 100_000}),
    ("/console/instances/nope/abort", {}),
    ("/console/triggers", {"event": "E", "workflow": "nope", "filter": "(" * 10_000}),
    ("/console/triggers", {"event": "E\x00", "workflow": "nope"}),
    ("/console/triggers", {"event": "E", "workflow": "nope", "vars": "no equals sign"}),
    ("/console/triggers/nope/test", {"payload": "[" * 10_000}),
]


@pytest.mark.parametrize(("path", "fields"), HOSTILE_FORMS, ids=[f"{path} {sorted(fields)}" for path, fields in HOSTILE_FORMS])
def test_a_hostile_form_is_refused_on_a_page_never_a_server_error(service: FlowsProcess, path: str, fields: dict[str, str]) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as client:
        client.get("/console/workflows")
        fields = {**fields, "csrf": client.cookies["flows_console_csrf"]}
        answer = client.post(path, data=fields)
    assert 400 <= answer.status_code < 500, answer.text[:500]
    assert answer.headers["content-type"].startswith("text/html")
    assert 'class="problem"' in answer.text


def test_a_form_that_is_not_utf8_is_refused(service: FlowsProcess) -> None:
    with httpx.Client(base_url=service.url, timeout=10) as client:
        client.get("/console/workflows")
        body = f"csrf={client.cookies['flows_console_csrf']}&config=%ff%fe".encode()
        answer = client.post("/console/workflows", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "UTF-8" in answer.text
