"""The Orchestration API over HTTP: one method per call, returning the answer's `data`.

Paths are the gateway's (`/api/orchestration/…`), which `flows serve` and a Formance stack both
serve. Every failure is an `ApiError` whose message is one line a person can act on: the API's
own `errorMessage`, or why the server could not be reached."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import httpx

PREFIX = "/api/orchestration"

YAML = "application/yaml"
JSON = "application/json"


class ApiError(Exception):
    """A call that did not succeed; the message says why, in one line."""


class FlowsApi:
    """The calls the CLI makes, on an httpx client whose base URL is the server."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    @property
    def server(self) -> str:
        return str(self._http.base_url).rstrip("/")

    def list_workflows(self) -> list[dict[str, Any]]:
        return self._call("GET", "/workflows")

    def create_workflow(self, document: bytes, content_type: str) -> dict[str, Any]:
        return self._call("POST", "/workflows", content=document, headers={"Content-Type": content_type})

    def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return self._call("GET", f"/workflows/{_segment(workflow_id)}")

    def delete_workflow(self, workflow_id: str) -> None:
        self._call("DELETE", f"/workflows/{_segment(workflow_id)}")

    def run_workflow(self, workflow_id: str, variables: dict[str, str]) -> dict[str, Any]:
        return self._call("POST", f"/workflows/{_segment(workflow_id)}/instances", json=variables)

    def list_instances(self, workflow_id: str | None = None, running: bool = False) -> list[dict[str, Any]]:
        query = {"workflowID": workflow_id} if workflow_id else {}
        if running:
            query["running"] = "true"
        return self._call("GET", "/instances", params=query)

    def get_instance(self, instance_id: str) -> dict[str, Any]:
        return self._call("GET", f"/instances/{_segment(instance_id)}")

    def send_event(self, instance_id: str, name: str) -> None:
        self._call("POST", f"/instances/{_segment(instance_id)}/events", json={"name": name})

    def stop_instance(self, instance_id: str) -> None:
        self._call("PUT", f"/instances/{_segment(instance_id)}/abort")

    def instance_history(self, instance_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/instances/{_segment(instance_id)}/history")

    def stage_history(self, instance_id: str, stage: int) -> list[dict[str, Any]]:
        return self._call("GET", f"/instances/{_segment(instance_id)}/stages/{stage}/history")

    def list_triggers(self, name: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", "/triggers", params={"name": name} if name else {})

    def create_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/triggers", json=trigger)

    def get_trigger(self, trigger_id: str) -> dict[str, Any]:
        return self._call("GET", f"/triggers/{_segment(trigger_id)}")

    def delete_trigger(self, trigger_id: str) -> None:
        self._call("DELETE", f"/triggers/{_segment(trigger_id)}")

    def test_trigger(self, trigger_id: str, payload: bytes) -> dict[str, Any]:
        # Only v2 has the test route.
        path = f"/v2/triggers/{_segment(trigger_id)}/test"
        return self._call("POST", path, content=payload, headers={"Content-Type": JSON})

    def trigger_occurrences(self, trigger_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/triggers/{_segment(trigger_id)}/occurrences")

    def _call(self, method: str, path: str, **request: Any) -> Any:
        try:
            response = self._http.request(method, PREFIX + path, **request)
        except httpx.TransportError as error:
            raise ApiError(f"cannot reach {self.server}: {transport_failure(error)}") from None
        if not response.is_success:
            raise ApiError(error_message(response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise ApiError(f"{self.server} answered {method} {path} with something that is not the Orchestration API's JSON") from None


def _segment(value: str) -> str:
    """An id as one path segment, whatever it holds (`../`, `?`, spaces)."""
    return quote(value, safe="")


_ERRNO = re.compile(r"^\[Errno -?\d+\]\s*")


def transport_failure(error: httpx.TransportError) -> str:
    """`connection refused`, `timed out`, `name or service not known`…: the cause, not the class."""
    if isinstance(error, httpx.TimeoutException):
        return "timed out"
    reason = _ERRNO.sub("", str(error)) or type(error).__name__
    return reason[:1].lower() + reason[1:]


def error_message(response: httpx.Response) -> str:
    """The API's `errorMessage`, the token endpoint's `error_description`, or the status."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("errorMessage", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return " ".join(str(body[key]).split())
    return f"{response.request.method} {response.request.url.path} answered {response.status_code} {response.reason_phrase}"
