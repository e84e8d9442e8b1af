"""The floors' bare Temporal workflows: the stage work of Flows' benchmarks, nothing else.

No bookkeeping activity, no HTTP API: what is left is what Temporal and the SDK cost for the
same work, on the same dev server. The activity options are Flows' own (flows.engine.workflow).
"""

from __future__ import annotations

from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from flows.engine.workflow import STACK_CALL_HEARTBEAT, STACK_CALL_TIMEOUT, STACK_RETRY
    from flows.stack.client import StackClient

NOOP_STEPS = 3


@workflow.defn(name="FloorNoops")
class Noops:
    """Three steps that, like `noop` stages, schedule nothing."""

    @workflow.run
    async def run(self, variables: dict[str, str]) -> int:
        done = 0
        for _ in range(NOOP_STEPS):
            done += 1
        return done


@workflow.defn(name="FloorSendUpdate")
class SendUpdate:
    """A `send` account→account on one ledger, then an `update`: the same two stack calls."""

    @workflow.run
    async def run(self, ledger: str) -> None:
        for name in ("CreateTransaction", "AddAccountMetadata"):
            await workflow.execute_activity(
                name,
                ledger,
                start_to_close_timeout=STACK_CALL_TIMEOUT,
                heartbeat_timeout=STACK_CALL_HEARTBEAT,
                retry_policy=STACK_RETRY,
            )


class StackCalls:
    """The HTTP calls Flows' CreateTransaction and AddAccountMetadata make, with their keys."""

    def __init__(self, stack: StackClient) -> None:
        self.stack = stack

    @staticmethod
    def _key() -> str:
        info = activity.info()
        return f"{info.workflow_id}-{info.activity_id}"

    @activity.defn(name="CreateTransaction")
    async def create_transaction(self, ledger: str) -> Any:
        posting = {"source": "world", "destination": "users:bench", "amount": 100, "asset": "USD/2"}
        body = {"metadata": {}, "postings": [posting]}
        return await self.stack.request("POST", f"/api/ledger/v2/{ledger}/transactions", json=body, idempotency_key=self._key())

    @activity.defn(name="AddAccountMetadata")
    async def add_account_metadata(self, ledger: str) -> Any:
        path = f"/api/ledger/v2/{ledger}/accounts/users%3Abench/metadata"
        return await self.stack.request("POST", path, json={"paid": "yes"}, idempotency_key=self._key())
