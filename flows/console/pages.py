"""The console's pages and actions: parse the form → call the application → render or redirect.

Every refusal of the application (a bad config, an unknown id, an event a terminated instance
cannot take) is shown on the page it came from, with its own message; nothing here answers 500
for a user's mistake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from flows.api.tokens import readable_services
from flows.application import ApplicationError, Invalid
from flows.console import summaries
from flows.console.rendering import Console, render
from flows.console.session import TOKEN_COOKIE, FormError, Refused, Viewer, read_form
from flows.documents import DocumentError, check_document, parse_json
from flows.stages.base import ConfigError
from flows.storage.records import InstanceRecord, StageStatusRecord, WorkflowRecord
from flows.workflows.yaml_body import load_yaml

PAGE_SIZE = 20
STATUSES = ("running", "terminated", "failed")
NOTICES = {
    "created": "Workflow created.",
    "deleted": "Workflow deleted.",
    "started": "Instance started.",
    "event-sent": "Event sent.",
    "aborted": "Instance aborted.",
    "trigger-created": "Trigger created.",
    "trigger-deleted": "Trigger deleted.",
}

Handler = Callable[[Request, Console, Viewer], Awaitable[Response]]


def page(handler: Handler, *, acts: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint of `handler`: a viewer who may read (else the login page), who may act for an
    action (else 403); a forged or unreadable form and any refusal of the application rendered."""

    async def endpoint(request: Request) -> Response:
        console: Console = request.app.state.console
        viewer = await console.sessions.viewer(request)
        if viewer is None:
            return RedirectResponse(f"{console.base(request)}/console/login", status_code=303)
        try:
            if acts and not viewer.can_write:
                raise Refused(f"this token may only read: acting needs {console.sessions.service}:write")
            return await handler(request, console, viewer)
        except Refused as refusal:
            return render(request, viewer, "error.html", status=403, title="Not allowed", message=str(refusal))
        except FormError as error:
            return render(request, viewer, "error.html", status=400, title="Form refused", message=str(error))
        except ApplicationError as error:
            status = 400 if isinstance(error, Invalid) else 404
            return render(request, viewer, "error.html", status=status, title="Refused", message=error.message)

    return endpoint


def _redirect(request: Request, console: Console, path: str, notice: str | None = None) -> Response:
    query = f"?notice={notice}" if notice else ""
    return RedirectResponse(f"{console.base(request)}/console{path}{query}", status_code=303)


def _notice(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < len(raw) < 7 and int(raw) > 0 else 1


# --------------------------------------------------------------------------- home


async def home(request: Request, console: Console, viewer: Viewer) -> Response:
    instances = console.application.instances
    running = await instances.browse(status="running", limit=10)
    failed = await instances.browse(status="failed", limit=5)
    recent = await instances.browse(limit=10)
    workflows = await console.application.workflows.list(0, 1)
    return render(
        request,
        viewer,
        "home.html",
        nav="home",
        running=running.items,
        failed=failed.items,
        recent=recent.items,
        has_workflows=bool(workflows.items),
    )


# --------------------------------------------------------------------------- workflows


async def workflows(request: Request, console: Console, viewer: Viewer) -> Response:
    number = _page_number(request)
    listed = await console.application.workflows.list((number - 1) * PAGE_SIZE, PAGE_SIZE)
    counts = await console.application.instances.counts([item.id for item in listed.items])
    return render(
        request,
        viewer,
        "workflows.html",
        nav="workflows",
        workflows=listed.items,
        counts=counts,
        page_number=number,
        has_more=listed.has_more,
        notice=_notice(request),
    )


async def new_workflow(request: Request, console: Console, viewer: Viewer) -> Response:
    return render(request, viewer, "workflow_new.html", nav="workflows", config=EXAMPLE_CONFIG, problem=None)


EXAMPLE_CONFIG = """name: approval
stages:
  - wait_event: {event: "${event}"}
  - delay: {duration: 1s}
  - noop: {}
"""


@dataclass(frozen=True)
class Problem:
    """A refused config: the path it names, when it names one, and what is wrong there."""

    path: str | None
    message: str


async def create_workflow(request: Request, console: Console, viewer: Viewer) -> Response:
    form = await read_form(request)
    text = form.get("config", "")
    try:
        record = await console.application.workflows.create(parse_document(text))
    except (Invalid, FormError) as error:
        path, message = summaries.error_at(str(error))
        problem = Problem(path, message)
        return render(request, viewer, "workflow_new.html", status=400, nav="workflows", config=text, problem=problem)
    return _redirect(request, console, f"/workflows/{record.id}", "created")


def parse_document(text: str) -> Any:
    """A pasted config: JSON when it looks like JSON, else YAML; checked as the API checks a body."""
    if not text.strip():
        raise FormError("paste a workflow config, as JSON or YAML")
    raw = text.encode("utf-8", "surrogatepass")
    try:
        if text.lstrip().startswith(("{", "[")):
            return parse_json(raw)
        document = load_yaml(raw)
        check_document(document)
        return document
    except (DocumentError, ConfigError) as error:
        raise FormError(f"the config {error}" if isinstance(error, DocumentError) else str(error)) from None
    except RecursionError:
        raise FormError("the config nests too deeply") from None


async def workflow(request: Request, console: Console, viewer: Viewer) -> Response:
    record = await console.application.workflows.get(request.path_params["workflow_id"])
    return _workflow_page(request, console, viewer, record)


def _workflow_page(
    request: Request,
    console: Console,
    viewer: Viewer,
    record: WorkflowRecord,
    *,
    problem: str | None = None,
    given: dict[str, str] | None = None,
) -> Response:
    stages = record.config.get("stages") or []
    return render(
        request,
        viewer,
        "workflow.html",
        status=400 if problem else 200,
        nav="workflows",
        workflow=record,
        stages=[(summaries.stage_kind(entry), summaries.stage_summary(entry)) for entry in stages],
        variables=summaries.variables(record.config),
        given=given or {},
        config_json=summaries.as_json(record.config),
        config_yaml=summaries.as_yaml(record.config),
        problem=problem,
        notice=_notice(request),
    )


async def run_workflow(request: Request, console: Console, viewer: Viewer) -> Response:
    form = await read_form(request)
    workflow_id = request.path_params["workflow_id"]
    record = await console.application.workflows.get(workflow_id)
    given = {name[len("var.") :]: value for name, value in form.items() if name.startswith("var.")}
    for line in form.get("extra", "").splitlines():
        name, sep, value = line.partition("=")
        if sep and name.strip():
            given[name.strip()] = value.strip()

    async def variables() -> dict[str, str]:
        return given

    try:
        run = await console.application.workflows.run(workflow_id, variables)
    except Invalid as error:
        return _workflow_page(request, console, viewer, record, problem=error.message, given=given)
    return _redirect(request, console, f"/instances/{run.instance.id}", "started")


async def delete_workflow(request: Request, console: Console, viewer: Viewer) -> Response:
    await read_form(request)
    await console.application.workflows.delete(request.path_params["workflow_id"])
    return _redirect(request, console, "/workflows", "deleted")


# --------------------------------------------------------------------------- instances


async def instances(request: Request, console: Console, viewer: Viewer) -> Response:
    workflow_id = request.query_params.get("workflow", "")
    status = request.query_params.get("status", "")
    status = status if status in STATUSES else ""
    number = _page_number(request)
    listed = await console.application.instances.browse(workflow_id, status, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    choices = await console.application.workflows.list(0, 200)
    return render(
        request,
        viewer,
        "instances.html",
        nav="instances",
        instances=listed.items,
        workflows=choices.items,
        workflow_id=workflow_id,
        status_filter=status,
        statuses=STATUSES,
        page_number=number,
        has_more=listed.has_more,
    )


@dataclass(frozen=True)
class StageView:
    """One stage of an instance's timeline: from the config, and from the run once it started."""

    number: int
    kind: str
    summary: str
    status: str
    """pending, running, succeeded or failed"""
    record: StageStatusRecord | None
    duration: str
    input_json: str | None
    activities: list[Any]


async def timeline(console: Console, record: InstanceRecord) -> list[StageView]:
    config = record.workflow.config if record.workflow is not None else {}
    entries = list(config.get("stages") or [])
    ran = {stage.stage: stage for stage in record.stages}
    views = []
    for number, entry in enumerate(entries):
        stage = ran.get(number)
        kind = summaries.stage_kind(entry)
        # Once it started, what it really does: its parameters with the variables resolved.
        resolved = {kind: stage.input} if stage is not None and stage.input is not None else entry
        activities: list[Any] = []
        if stage is not None and stage.name is not None:
            activities = list(await console.application.instances.stage_history(record.id, number))
        views.append(
            StageView(
                number=number,
                kind=kind,
                summary=summaries.stage_summary(resolved),
                status=_stage_status(record, stage),
                record=stage,
                duration=summaries.duration(stage.started_at, stage.terminated_at or record.terminated_at) if stage else "",
                input_json=summaries.as_json(stage.input) if stage is not None and stage.input else None,
                activities=activities,
            )
        )
    return views


def _stage_status(instance: InstanceRecord, stage: StageStatusRecord | None) -> str:
    if stage is None:
        return "skipped" if instance.terminated else "pending"
    if stage.error is not None:
        return "failed"
    if stage.terminated_at is not None:
        return "succeeded"
    return "failed" if instance.terminated else "running"


async def _instance_context(console: Console, record: InstanceRecord) -> dict[str, Any]:
    stages = await timeline(console, record)
    failing = next((stage for stage in stages if stage.status == "failed"), None)
    return {
        "instance": record,
        "state": summaries.instance_status(record),
        "stages": stages,
        "failing": failing,
        "duration": summaries.duration(record.created_at, record.terminated_at),
    }


async def instance(request: Request, console: Console, viewer: Viewer, *, problem: str | None = None) -> Response:
    record = await console.application.instances.get(request.path_params["instance_id"])
    context = await _instance_context(console, record)
    return render(
        request,
        viewer,
        "instance.html",
        status=400 if problem else 200,
        nav="instances",
        problem=problem,
        notice=_notice(request),
        **context,
    )


async def instance_timeline(request: Request, console: Console, viewer: Viewer) -> Response:
    """The live part of an instance's page, polled while it runs."""
    record = await console.application.instances.get(request.path_params["instance_id"])
    return render(request, viewer, "_timeline.html", **await _instance_context(console, record))


async def send_event(request: Request, console: Console, viewer: Viewer) -> Response:
    form = await read_form(request)
    instance_id = request.path_params["instance_id"]
    name = form.get("name", "").strip()
    try:
        if not name:
            raise Invalid("give the event's name")
        await console.application.instances.send_event(instance_id, name)
    except Invalid as error:
        return await instance(request, console, viewer, problem=error.message)
    return _redirect(request, console, f"/instances/{instance_id}", "event-sent")


async def abort_instance(request: Request, console: Console, viewer: Viewer) -> Response:
    await read_form(request)
    instance_id = request.path_params["instance_id"]
    await console.application.instances.abort(instance_id)
    return _redirect(request, console, f"/instances/{instance_id}", "aborted")


# --------------------------------------------------------------------------- triggers


TRIGGER_EVENTS = (
    "COMMITTED_TRANSACTIONS",
    "SAVED_METADATA",
    "REVERTED_TRANSACTION",
    "SAVED_PAYMENT",
    "SAVED_ACCOUNT",
    "SUCCEEDED_WORKFLOW",
    "FAILED_WORKFLOW",
)


async def triggers(
    request: Request, console: Console, viewer: Viewer, *, problem: str | None = None, given: dict[str, str] | None = None
) -> Response:
    number = _page_number(request)
    listed = await console.application.triggers.list("", (number - 1) * PAGE_SIZE, PAGE_SIZE)
    choices = await console.application.workflows.list(0, 200)
    return render(
        request,
        viewer,
        "triggers.html",
        status=400 if problem else 200,
        nav="triggers",
        triggers=listed.items,
        workflows=choices.items,
        names={item.id: item.config.get("name") or item.id for item in choices.items},
        events=TRIGGER_EVENTS,
        page_number=number,
        has_more=listed.has_more,
        problem=problem,
        given=given or {},
        notice=_notice(request),
    )


def parse_variables(text: str) -> dict[str, str] | None:
    """`name = expression`, one a line; None when there are none."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, sep, source = line.partition("=")
        if not sep or not name.strip() or not source.strip():
            raise Invalid(f"variables, line {number}: write `name = expression`")
        found[name.strip()] = source.strip()
    return found or None


async def create_trigger(request: Request, console: Console, viewer: Viewer) -> Response:
    form = await read_form(request)
    try:
        record = await console.application.triggers.create(
            event=form.get("event", "").strip(),
            workflow_id=form.get("workflow", "").strip(),
            name=form.get("name", "").strip(),
            filter=form.get("filter", "").strip() or None,
            variables=parse_variables(form.get("vars", "")),
        )
    except ApplicationError as error:
        return await triggers(request, console, viewer, problem=error.message, given=form)
    return _redirect(request, console, f"/triggers/{record.id}", "trigger-created")


EXAMPLE_PAYLOAD = """{
  "transactions": [
    {"postings": [{"source": "world", "destination": "users:001", "amount": 100, "asset": "USD/2"}]}
  ]
}"""


async def trigger(
    request: Request, console: Console, viewer: Viewer, *, tested: Any = None, payload: str | None = None, problem: str | None = None
) -> Response:
    triggers_ = console.application.triggers
    record = await triggers_.get(request.path_params["trigger_id"])
    number = _page_number(request)
    occurrences = await triggers_.occurrences(record.id, (number - 1) * PAGE_SIZE, PAGE_SIZE)
    return render(
        request,
        viewer,
        "trigger.html",
        status=400 if problem else 200,
        nav="triggers",
        trigger=record,
        occurrences=occurrences.items,
        page_number=number,
        has_more=occurrences.has_more,
        tested=tested,
        payload=EXAMPLE_PAYLOAD if payload is None else payload,
        problem=problem,
        notice=_notice(request),
    )


async def test_trigger(request: Request, console: Console, viewer: Viewer) -> Response:
    """A trigger's filter and variables against a payload, as `POST /v2/triggers/{id}/test` does."""
    form = await read_form(request)
    text = form.get("payload", "")

    async def payload() -> dict[str, Any]:
        try:
            document = parse_json(text.encode("utf-8", "surrogatepass"))
        except DocumentError as error:
            raise Invalid(f"the payload {error}") from None
        if not isinstance(document, dict):
            raise Invalid("the payload must be a JSON object")
        return document

    readable = readable_services(viewer.claims)
    try:
        tested = await console.application.triggers.test(request.path_params["trigger_id"], payload, readable)
    except Invalid as error:
        return await trigger(request, console, viewer, payload=text, problem=error.message)
    return await trigger(request, console, viewer, tested=tested, payload=text)


async def delete_trigger(request: Request, console: Console, viewer: Viewer) -> Response:
    await read_form(request)
    await console.application.triggers.delete(request.path_params["trigger_id"])
    return _redirect(request, console, "/triggers", "trigger-deleted")


# --------------------------------------------------------------------------- sandbox


async def sandbox(request: Request, console: Console, viewer: Viewer) -> Response:
    if console.sandbox is None:
        return render(request, viewer, "sandbox.html", nav="sandbox", overview=None)
    token = request.cookies.get(TOKEN_COOKIE) if viewer.claims is not None else None
    overview = await console.sandbox.overview(token, request.query_params.get("ledger"))
    return render(request, viewer, "sandbox.html", nav="sandbox", overview=overview)
