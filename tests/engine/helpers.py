"""Driving a real `flows serve` over HTTP in the engine tests, and reaching its embedded Temporal."""

from __future__ import annotations

from pathlib import Path

import httpx


def create_workflow(url: str, stages: list[dict]) -> str:
    response = httpx.post(f"{url}/workflows", json={"stages": stages})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def run(url: str, workflow_id: str) -> str:
    response = httpx.post(f"{url}/workflows/{workflow_id}/instances")
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def instance(url: str, instance_id: str) -> dict:
    response = httpx.get(f"{url}/instances/{instance_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def history(url: str, instance_id: str) -> list[dict]:
    return httpx.get(f"{url}/instances/{instance_id}/history").json()["data"]


def waiting_on_event(url: str, instance_id: str) -> bool:
    entries = history(url, instance_id)
    return bool(entries) and entries[-1]["name"] == "RunWaitEvent" and not entries[-1]["terminated"]


def temporal_pid(data_dir: Path) -> int:
    """The pid of the embedded Temporal of the `flows serve` on `data_dir`."""
    return int((data_dir / "temporal.pid").read_text())


def temporal_address(data_dir: Path) -> str:
    return (data_dir / "temporal.address").read_text().strip()


def ended(url: str, instance_id: str) -> dict | None:
    """The instance once it has terminated, else None (for `eventually`)."""
    found = instance(url, instance_id)
    return found if found["terminated"] else None
