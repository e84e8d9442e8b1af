"""The worker's activity interceptor: each attempt counted, timed, and a failed one logged in one line.

Activities run once per attempt and are never replayed, so counting here (not in the workflow,
which replays) counts each attempt once. A failed attempt is a WARNING line saying the activity,
the instance and stage, the attempt, why, and when the next one is due; only a bug (an exception
that is neither the stack's answer nor an outage) carries its traceback.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory
from temporalio.exceptions import CancelledError as TemporalCancelled
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from flows.observability.metrics import ACTIVITY_ATTEMPTS, ACTIVITY_DURATION, ACTIVITY_FAILURES
from flows.outages import dependency_down

logger = logging.getLogger("flows.activities")


class ActivityObserver(Interceptor):
    """Passed to the worker's `interceptors`."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ObservedActivity(next)


class _ObservedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        ACTIVITY_ATTEMPTS.labels(info.activity_type).inc()
        started = time.perf_counter()
        try:
            return await self.next.execute_activity(input)
        except (asyncio.CancelledError, TemporalCancelled):
            raise  # an abort: the instance's lines say it
        except Exception as error:
            retried = _retried(error, info)
            ACTIVITY_FAILURES.labels(info.activity_type, "true" if retried is not None else "false").inc()
            _log_failure(error, info, retried)
            raise
        finally:
            ACTIVITY_DURATION.labels(info.activity_type).observe(time.perf_counter() - started)


def expected(error: BaseException) -> bool:
    """An answer of the stack or an outage (marked benign where raised), not a bug."""
    if isinstance(error, ApplicationError):
        return error.category == ApplicationErrorCategory.BENIGN
    return isinstance(error, Exception) and dependency_down(error)


def _retried(error: Exception, info: activity.Info) -> timedelta | None:
    """When Temporal runs the next attempt; None when it will not retry (the stage fails)."""
    policy = info.retry_policy or RetryPolicy()
    if isinstance(error, ApplicationError) and (error.non_retryable or error.type in (policy.non_retryable_error_types or ())):
        return None
    if policy.maximum_attempts and info.attempt >= policy.maximum_attempts:
        return None
    delay = policy.initial_interval.total_seconds() * policy.backoff_coefficient ** (info.attempt - 1)
    cap = policy.maximum_interval or policy.initial_interval * 100
    return min(timedelta(seconds=delay), cap)


def _where(info: activity.Info) -> tuple[str, int | None]:
    """`instance <id>[ stage <n>]`: stack activities' ids are `<stage>-<call>` (flows/engine/workflow.py)."""
    stage, dash, _ = info.activity_id.partition("-")
    number = int(stage) if dash and stage.isdigit() else None
    where = f"instance {info.workflow_id}" + (f" stage {number}" if number is not None else "")
    return where, number


def _log_failure(error: Exception, info: activity.Info, retried: timedelta | None) -> None:
    where, stage = _where(info)
    reason = getattr(error, "message", None) or str(error) or type(error).__name__
    then = f"next attempt in {_seconds(retried)}" if retried is not None else "not retried"
    fields = {
        "instance_id": info.workflow_id,
        "stage": stage,
        "activity": info.activity_type,
        "attempt": info.attempt,
        "next_attempt_in": retried.total_seconds() if retried is not None else None,
        "error": reason,
    }
    bug = not expected(error)
    logger.log(
        logging.ERROR if bug else logging.WARNING,
        "%s: %s attempt %d failed: %s; %s",
        where,
        info.activity_type,
        info.attempt,
        reason,
        then,
        exc_info=error if bug else None,
        extra=fields,
    )


def _seconds(delay: timedelta) -> str:
    seconds = delay.total_seconds()
    return f"{seconds:g}s" if seconds < 60 else f"{seconds / 60:g}m"
