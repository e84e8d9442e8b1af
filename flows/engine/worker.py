"""The Temporal worker that runs instance workflows and their activities."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from flows.engine.bookkeeping import Bookkeeping
from flows.engine.lifecycle import LifecyclePublisher
from flows.engine.workflow import InstanceWorkflow
from flows.observability.activities import ActivityObserver
from flows.stack.activities import StackActivities
from flows.stack.client import StackClient
from flows.storage.repository import Repository

# Sized for a 2-core machine: enough in flight to keep Temporal busy, few enough that a workflow
# task running its local activities never nears the 10 s workflow task timeout.
MAX_WORKFLOW_TASKS = 64
MAX_LOCAL_ACTIVITIES = 32
MAX_ACTIVITIES = 64
# On SIGTERM, stack calls in flight get this long to finish before they are cancelled (and retried
# by another worker): a deploy should not turn every call in flight into a retry.
GRACEFUL_SHUTDOWN = timedelta(seconds=15)


def build_worker(
    client: Client,
    task_queue: str,
    repository: Repository,
    stack: StackClient | None = None,
    events: LifecyclePublisher | None = None,
) -> Worker:
    """`stack` is where stack activities call; without it the worker runs no money movement.
    `events` receives the lifecycle events derived from the bookkeeping writes."""
    bookkeeping = Bookkeeping(repository, events)
    stack_activities = StackActivities(stack, repository, bookkeeping.record_call_start).all() if stack else []
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[InstanceWorkflow],
        activities=[bookkeeping.record_progress, *stack_activities],
        # Counts and logs each attempt; a tracing interceptor of the client applies here too.
        interceptors=[ActivityObserver()],
        # Stage code is deterministic by construction (flows.stages and flows.workflows do no
        # I/O), so it is shared with the sandbox instead of being re-imported for every run.
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules(
                "flows", "pydantic", "pydantic_core", "annotated_types", "yaml", "opentelemetry"
            )
        ),
        max_concurrent_workflow_tasks=MAX_WORKFLOW_TASKS,
        max_concurrent_local_activities=MAX_LOCAL_ACTIVITIES,
        max_concurrent_activities=MAX_ACTIVITIES,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )
