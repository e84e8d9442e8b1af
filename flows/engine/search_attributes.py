"""The reference's Temporal search attributes (docs/deploy.md), so that operators find an instance's
workflow in Temporal's UI and CLI (`temporal workflow list --query "OrchestrationWorkflowID='…'"`):

* `Stack` (Keyword): `--stack`, on every instance;
* `OrchestrationWorkflowID` (Text): the workflow (configuration) the instance runs;
* `OrchestrationTriggerID` (Text): the trigger that started it, when one did.

The types are the reference's, so that both can share a namespace. A start may only set attributes
the namespace knows: the embedded dev server registers them when it starts
(`DEV_SERVER_ATTRIBUTES`), `--temporal-init-search-attributes` registers them on another server
(`register`), and otherwise those an operator registered are found at startup (`registered`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes
from temporalio.service import RPCError, RPCStatusCode

logger = logging.getLogger("flows.engine")

STACK = SearchAttributeKey.for_keyword("Stack")
WORKFLOW_ID = SearchAttributeKey.for_text("OrchestrationWorkflowID")
TRIGGER_ID = SearchAttributeKey.for_text("OrchestrationTriggerID")

_TYPES = {
    STACK.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    WORKFLOW_ID.name: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    TRIGGER_ID.name: IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
}
ALL = frozenset(_TYPES)

DEV_SERVER_ATTRIBUTES = {STACK.name: "Keyword", WORKFLOW_ID.name: "Text", TRIGGER_ID.name: "Text"}
"""`temporal server start-dev --search-attribute name=Type` for each."""

REGISTER_TIMEOUT_S = 15.0
"""Temporal adds search attributes asynchronously: how long `register` waits to see them listed."""


@dataclass(frozen=True)
class InstanceAttributes:
    """The search attributes an instance's workflow starts with."""

    stack: str
    known: frozenset[str]
    """The attributes the namespace has: the others are left out of a start, which would fail."""

    def of(self, workflow_id: str, trigger_id: str | None) -> TypedSearchAttributes:
        pairs: list[SearchAttributePair[str]] = [SearchAttributePair(STACK, self.stack), SearchAttributePair(WORKFLOW_ID, workflow_id)]
        if trigger_id is not None:
            pairs.append(SearchAttributePair(TRIGGER_ID, trigger_id))
        return TypedSearchAttributes([pair for pair in pairs if pair.key.name in self.known])


async def registered(client: Client) -> frozenset[str]:
    """Which of the attributes the client's namespace has."""
    listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=client.namespace))
    return ALL & frozenset(listed.custom_attributes)


async def register(client: Client) -> None:
    """Add the attributes to the client's namespace (those already there are left as they are)
    and wait until Temporal lists them."""
    missing = ALL - await registered(client)
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes={name: _TYPES[name] for name in sorted(missing)})
            )
        except RPCError as error:
            # Another process registered them in the meantime.
            if error.status != RPCStatusCode.ALREADY_EXISTS:
                raise
    async with asyncio.timeout(REGISTER_TIMEOUT_S):
        while ALL - await registered(client):  # noqa: ASYNC110 (polling Temporal, not waiting on this process)
            await asyncio.sleep(0.2)


async def instance_attributes(client: Client, stack: str, *, init: bool) -> InstanceAttributes:
    """What instances start with: with `init`, the attributes are registered first. Without, and
    when Temporal does not say what it has (no operator permission), none is set, said once."""
    if init:
        await register(client)
        return InstanceAttributes(stack, ALL)
    try:
        known = await registered(client)
    except RPCError as error:
        logger.warning("cannot list Temporal's search attributes (%s): instances start without them", error.message)
        return InstanceAttributes(stack, frozenset())
    if known != ALL:
        logger.warning(
            "Temporal's namespace '%s' lacks the search attributes %s: instances start without them"
            " (--temporal-init-search-attributes registers them)",
            client.namespace,
            ", ".join(sorted(ALL - known)),
        )
    return InstanceAttributes(stack, known)
