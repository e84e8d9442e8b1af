"""Waiting, in tests, for what a service does in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(check: Callable[[], T], timeout: float = 30, step: float = 0.05) -> T:
    """Poll `check` until it returns something truthy; that value. Fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"condition not met within {timeout:.0f} s"
        time.sleep(step)
