"""The API described as an OpenAPI 3.1 document (`/openapi.json`) and as a page to read (`/docs`).

The document is built here, in code, next to the routes it describes: tests/api/test_openapi.py
checks that it names every route the application serves and nothing else, and
tests/api/test_schemathesis.py fuzzes a real server with it, so that a change to a handler or a
response shape that the document does not follow fails the tests.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from flows.api.auth import DISCOVERY_PATH, KEYS_PATH, TOKEN_PATH
from flows.api.bodies import MAX_BODY, YAML_TYPES
from flows.api.events import MAX_EVENT_BODY
from flows.api.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from flows.api.state import application
from flows.stages import STAGES
from flows.workflows.config import MAX_STAGES

Schema = dict[str, Any]
Operation = dict[str, Any]

OAUTH = "oauth2"
READ_SCOPE = "orchestration:read"
WRITE_SCOPE = "orchestration:write"

DESCRIPTION = f"""\
Flows serves the Formance Orchestration API, v1 at `/` and v2 at `/v2/`, both also under the
gateway prefix `/api/orchestration` that the Formance SDKs call (the two servers below: every path
answers under each). A trailing slash is accepted on every path, and every GET also answers HEAD.

Errors are `{{"errorCode", "errorMessage"}}` with `errorCode` one of `VALIDATION`, `NOT_FOUND`,
`INTERNAL`; the token endpoint answers RFC 6749 errors instead. Optional fields with no value are
left out, never `null`. Bodies are at most {MAX_BODY} bytes ({MAX_EVENT_BODY} for `POST /events`).

Auth is off unless the server runs with `--auth-clients`; then every operation that lists a scope
needs a bearer token from `POST {TOKEN_PATH}` (OAuth2 client credentials) with one of them.

Not described here: the paths of the sandbox Formance stack that `flows serve` mounts beside the
API when it runs without `--stack-url` (`/api/ledger`, `/api/wallets`, `/api/payments`). They
belong to the stack's own APIs, not to Flows."""


# -- schema helpers ------------------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _object(required: dict[str, Schema], optional: dict[str, Schema] | None = None, **extra: Any) -> Schema:
    """An object with these fields; other fields may appear (clients ignore them)."""
    schema: Schema = {"type": "object", "properties": {**required, **(optional or {})}, **extra}
    if required:
        schema["required"] = list(required)
    return schema


STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
BOOLEAN: Schema = {"type": "boolean"}
TIMESTAMP: Schema = {"type": "string", "format": "date-time", "description": "RFC 3339, with an offset"}
ANY_OBJECT: Schema = {"type": "object"}
STRINGS: Schema = {"type": "object", "additionalProperties": STRING}


def _maybe(schema: Schema) -> Schema:
    """A stage parameter: null is taken as absent."""
    return {"anyOf": [schema, {"type": "null"}]}


def _parameters(description: str, fields: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    """A stage's parameter object: its fields only. Null stands for {}, so that a stage with a
    required field cannot be null."""
    params: Schema = {"type": "object", "properties": fields, "additionalProperties": False, "description": description}
    if required:
        return {**params, "required": list(required)}
    return _maybe(params)


_OBJECT = {"type": "object", "description": "see docs/stages.md"}

STAGE_PARAMETERS: dict[str, Schema] = {
    "noop": _parameters("Does nothing.", {}),
    "delay": _parameters(
        "Waits durably: exactly one of `duration` (Go syntax, `90s`, `1h30m`) or `until` (RFC 3339).",
        {"duration": _maybe(STRING), "until": _maybe(STRING)},
    ),
    "wait_event": _parameters("Waits for an event of this name.", {"event": STRING}, ("event",)),
    "send": _parameters(
        "Moves money: `source` and `destination` are each one of `account`, `wallet`, `payment`; "
        "`amount` (`{amount, asset}`) may be left out only for a payment source.",
        {
            "source": _OBJECT,
            "destination": _OBJECT,
            "amount": _maybe(_OBJECT),
            "metadata": _maybe(_OBJECT),
            "timestamp": _maybe(STRING),
        },
        ("source", "destination"),
    ),
    "update": _parameters("Adds metadata to a ledger account: `account: {id, ledger, metadata}`.", {"account": _OBJECT}, ("account",)),
}
"""What each stage takes, as far as a schema can say; the full rules are the stage's own checks."""


def _stage() -> Schema:
    return {
        "type": "object",
        "description": 'One stage, as `{"<kind>": {parameters}}`.',
        "minProperties": 1,
        "maxProperties": 1,
        "properties": {kind: STAGE_PARAMETERS.get(kind, _maybe(ANY_OBJECT)) for kind in STAGES},
        "additionalProperties": False,
    }


def _cursor(item: str) -> Schema:
    page = _object(
        {"pageSize": INTEGER, "hasMore": BOOLEAN, "data": {"type": "array", "items": _ref(item)}},
        {"previous": STRING, "next": STRING},
    )
    return _object({"cursor": page})


def _data(schema: Schema) -> Schema:
    return _object({"data": schema})


ERROR_CODES = ["VALIDATION", "NOT_FOUND", "INTERNAL"]
OAUTH_ERRORS = ["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]

SCHEMAS: dict[str, Schema] = {
    "Error": _object({"errorCode": {"type": "string", "enum": ERROR_CODES}, "errorMessage": STRING}),
    "OAuthError": _object({"error": {"type": "string", "enum": OAUTH_ERRORS}}, {"error_description": STRING}),
    "Token": _object(
        {
            "access_token": STRING,
            "token_type": {"type": "string", "enum": ["Bearer"]},
            "expires_in": {"type": "integer", "description": "seconds"},
            "scope": {"type": "string", "description": "the granted scopes, space-separated"},
        }
    ),
    "IssuerMetadata": _object(
        {"issuer": STRING, "token_endpoint": STRING, "jwks_uri": STRING},
        {
            f"{name}_supported": {"type": "array", "items": STRING}
            for name in ("grant_types", "token_endpoint_auth_methods", "scopes", "claims")
        },
    ),
    "KeySet": _object({"keys": {"type": "array", "items": ANY_OBJECT, "description": "JSON Web Keys (RFC 7517)"}}),
    "ServerInfo": _object({"version": STRING}),
    "Health": _object({"default": {"type": "string", "enum": ["OK"]}}),
    "WorkflowConfig": _object(
        {"stages": {"type": "array", "maxItems": MAX_STAGES, "items": _ref("Stage")}},
        {"name": {"type": ["string", "null"]}},
        description="Validated in full when created; stored and returned as submitted.",
    ),
    "Stage": _stage(),
    "Workflow": _object(
        {"id": STRING, "config": _ref("WorkflowConfig"), "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP},
        {"deletedAt": TIMESTAMP},
    ),
    "StageStatus": _object(
        {"stage": INTEGER, "instanceID": STRING, "temporalRunID": STRING, "startedAt": TIMESTAMP},
        {"terminatedAt": TIMESTAMP, "error": STRING},
    ),
    "Instance": _object(
        {"id": STRING, "workflowID": STRING, "createdAt": TIMESTAMP, "updatedAt": TIMESTAMP, "terminated": BOOLEAN},
        {
            "workflow": _ref("Workflow"),
            "terminatedAt": TIMESTAMP,
            "status": {"type": "array", "items": _ref("StageStatus"), "description": "one entry per started stage"},
            "error": STRING,
        },
    ),
    "StageHistory": _object(
        {"name": STRING, "input": ANY_OBJECT, "terminated": BOOLEAN, "startedAt": TIMESTAMP},
        {"error": STRING, "terminatedAt": TIMESTAMP},
    ),
    "ActivityHistory": _object(
        {"name": STRING, "input": ANY_OBJECT, "terminated": BOOLEAN, "startedAt": TIMESTAMP, "attempt": INTEGER},
        {"output": ANY_OBJECT, "error": STRING, "terminatedAt": TIMESTAMP, "lastFailure": STRING, "nextExecution": TIMESTAMP},
    ),
    "TriggerData": _object(
        {"event": STRING, "workflowID": STRING},
        {
            "name": STRING,
            "version": STRING,
            "filter": {"type": "string", "description": "an expression over `event`, see docs/triggers.md"},
            "vars": {**STRINGS, "description": "run variables, each an expression over `event`"},
        },
    ),
    "Trigger": _object(
        {"id": STRING, "name": STRING, "event": STRING, "workflowID": STRING, "createdAt": TIMESTAMP},
        {"version": STRING, "filter": STRING, "vars": STRINGS},
    ),
    "Occurrence": _object(
        {"id": STRING, "triggerID": STRING, "date": TIMESTAMP, "event": ANY_OBJECT},
        {"workflowInstanceID": STRING, "workflowInstance": _ref("Instance"), "error": STRING},
    ),
    "TriggerTest": _object(
        {},
        {
            "filter": _object({"match": BOOLEAN}, {"error": STRING}, description="absent when the trigger has no filter"),
            "variables": {
                "type": "object",
                "description": "absent when the trigger has none or its filter did not match",
                "additionalProperties": {"oneOf": [_object({"value": {}}), _object({"error": STRING})]},
            },
        },
    ),
    "EventEnvelope": _object(
        {"type": STRING, "payload": {}},
        {"idempotency_key": STRING, "date": STRING, "app": STRING, "version": STRING},
        description="A Formance stack event, as its HTTP publisher sends it.",
    ),
    "DeadLetter": _object(
        {
            "id": STRING,
            "receivedAt": TIMESTAMP,
            "source": {"type": "string", "enum": ["http", "nats", "sandbox", "lifecycle"]},
            "messageID": STRING,
            "reason": STRING,
            "raw": {"type": "string", "description": "the message as received, possibly cut"},
            "rawSize": {"type": "integer", "description": "bytes received"},
        }
    ),
}


# -- responses and parameters --------------------------------------------------------------------

JSON = "application/json"


def _json(description: str, schema: Schema) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {**_json(description, _ref("Error")), **extra}


_CHALLENGE = {"WWW-Authenticate": {"required": True, "schema": STRING, "description": "a Bearer challenge"}}

RESPONSES: dict[str, Any] = {
    "Invalid": _error("VALIDATION: the request is wrong (body, query parameter, or an action the target refuses)"),
    "Unauthenticated": _error("VALIDATION: no token, or a token that is refused (auth on)", headers=_CHALLENGE),
    "Forbidden": _error("VALIDATION: the token lacks the scope (auth on)", headers=_CHALLENGE),
    "NotFound": _error("NOT_FOUND: no such workflow, instance, trigger or stage"),
    "TooLarge": _error("VALIDATION: the body is over the size limit"),
    "Unavailable": _error("INTERNAL: the database or Temporal is unavailable, retry later"),
}


def _responses(success: dict[str, Any], *errors: str) -> dict[str, Any]:
    by_status = {"400": "Invalid", "401": "Unauthenticated", "403": "Forbidden", "404": "NotFound", "413": "TooLarge"}
    by_status["503"] = "Unavailable"
    chosen = {status: {"$ref": f"#/components/responses/{name}"} for status, name in by_status.items() if status in errors}
    return {**success, **chosen}


def _query(name: str, schema: Schema, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _path(name: str, description: str, schema: Schema = STRING) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "schema": STRING, "description": description}


TRUE_OR_FALSE: Schema = {"type": "boolean", "description": "`true` or `1` for yes; anything else is no"}
PAGINATION = [
    _query(
        "pageSize",
        {"type": "integer", "minimum": 0, "maximum": 2**32},
        f"items per page: {DEFAULT_PAGE_SIZE} when absent or 0, at most {MAX_PAGE_SIZE}; not an integer in [0, 2^32]: 400",
    ),
    _query(
        "cursor",
        STRING,
        "`next` or `previous` of a page; carries the filters and page size, which then win over the query",
    ),
]
IDEMPOTENCY_KEY = "Idempotency-Key"


def _security(*scopes: str) -> list[dict[str, list[str]]]:
    """Any one of these scopes; `{}`: no token, when auth is off."""
    return [{}, *({OAUTH: [scope]} for scope in scopes)]


READ = _security(READ_SCOPE, WRITE_SCOPE)
WRITE = _security(WRITE_SCOPE)
PUBLIC: list[dict[str, list[str]]] = []


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Any],
    *,
    security: list[dict[str, list[str]]],
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    description: str | None = None,
) -> Operation:
    operation: Operation = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description:
        operation["description"] = description
    if parameters:
        operation["parameters"] = parameters
    if body:
        operation["requestBody"] = body
    operation["responses"] = responses
    operation["security"] = security
    return operation


def _body(description: str, content: dict[str, Schema], *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "content": {media: {"schema": s} for media, s in content.items()}}


# -- the operations ------------------------------------------------------------------------------

WORKFLOW_ID = _path("workflowID", "a workflow's id")
INSTANCE_ID = _path("instanceID", "an instance's id")
TRIGGER_ID = _path("triggerID", "a trigger's id")
NO_CONTENT = {"204": {"description": "done"}}


def _list(version: str, item: str, description: str) -> dict[str, Any]:
    if version == "v1":
        return {"200": _json(f"{description}, all of them", _data({"type": "array", "items": _ref(item)}))}
    return {"200": _json(f"{description}, a page", _cursor(item))}


def _versioned(version: str) -> dict[str, dict[str, Operation]]:
    """The operations both versions serve, under `/` (v1) or `/v2` (v2)."""
    prefix = "" if version == "v1" else "/v2"
    pages = [] if version == "v1" else PAGINATION
    list_errors = ("401", "403", "503") if version == "v1" else ("400", "401", "403", "503")
    v = "" if version == "v1" else "v2"

    def op(operation_id: str, tag: str, summary: str, responses: dict[str, Any], **rest: Any) -> Operation:
        name = f"{v}{operation_id[0].upper()}{operation_id[1:]}" if v else operation_id
        return _operation(name, tag, f"{summary} ({version})", responses, **rest)

    workflow_body = _body(
        "A workflow config, as JSON or YAML (the same document either way).",
        {JSON: _ref("WorkflowConfig"), **{media: _ref("WorkflowConfig") for media in sorted(YAML_TYPES)}},
    )
    variables = _body("The run variables, an object of strings; may be empty or absent.", {JSON: STRINGS}, required=False)
    event = _body("The event to deliver.", {JSON: _object({"name": {"type": "string", "minLength": 1}})}, required=False)
    created_workflow = {"201": _json("the workflow created", _data(_ref("Workflow")))}
    paths: dict[str, dict[str, Operation]] = {
        f"{prefix}/workflows": {
            "get": op(
                "listWorkflows",
                "workflows",
                "List workflows",
                _responses(_list(version, "Workflow", "the live workflows"), *list_errors),
                security=READ,
                parameters=pages or None,
            ),
            "post": op(
                "createWorkflow",
                "workflows",
                "Create a workflow",
                _responses(created_workflow, "400", "401", "403", "413", "503"),
                security=WRITE,
                body=workflow_body,
            ),
        },
        f"{prefix}/workflows/{{workflowID}}": {
            "get": op(
                "getWorkflow",
                "workflows",
                "Read a workflow",
                _responses({"200": _json("the workflow", _data(_ref("Workflow")))}, "401", "403", "404", "503"),
                security=READ,
                parameters=[WORKFLOW_ID],
            ),
            "delete": op(
                "deleteWorkflow",
                "workflows",
                "Delete a workflow",
                _responses(NO_CONTENT, "400", "401", "403", "404", "503"),
                security=WRITE,
                parameters=[WORKFLOW_ID],
                description="A soft delete: the workflow's instances stay readable by id. An id that is not a UUID is a 400.",
            ),
        },
        f"{prefix}/workflows/{{workflowID}}/instances": {
            "post": op(
                "runWorkflow",
                "workflows",
                "Run a workflow",
                _responses({"201": _json("the instance started", _data(_ref("Instance")))}, "400", "401", "403", "404", "413", "503"),
                security=WRITE,
                body=variables,
                parameters=[
                    WORKFLOW_ID,
                    _query("wait", TRUE_OR_FALSE, "wait until the instance ends, at most the server's --wait-timeout"),
                    _header(IDEMPOTENCY_KEY, "the same key again returns the same instance and starts nothing"),
                ],
            ),
        },
        f"{prefix}/instances": {
            "get": op(
                "listInstances",
                "instances",
                "List instances",
                _responses(_list(version, "Instance", "instances of live workflows"), *list_errors),
                security=READ,
                parameters=[
                    _query("workflowID", STRING, "only this workflow's"),
                    _query("running", TRUE_OR_FALSE, "only those not terminated"),
                    *pages,
                ],
            ),
        },
        f"{prefix}/instances/{{instanceID}}": {
            "get": op(
                "getInstance",
                "instances",
                "Read an instance",
                _responses({"200": _json("the instance with its stage statuses", _data(_ref("Instance")))}, "401", "403", "404", "503"),
                security=READ,
                parameters=[INSTANCE_ID],
            ),
        },
        f"{prefix}/instances/{{instanceID}}/events": {
            "post": op(
                "sendEvent",
                "instances",
                "Send an event",
                _responses(NO_CONTENT, "400", "401", "403", "404", "413", "503"),
                security=WRITE,
                body=event,
                parameters=[INSTANCE_ID, _header(IDEMPOTENCY_KEY, "a retried call with the same key delivers the event once")],
                description="A missing name, an instance that has ended or holds 1,000 pending events: 400.",
            ),
        },
        f"{prefix}/instances/{{instanceID}}/abort": {
            "put": op(
                "cancelEvent",
                "instances",
                "Abort an instance",
                _responses(NO_CONTENT, "401", "403", "404", "503"),
                security=WRITE,
                parameters=[INSTANCE_ID],
                description="Answers once the instance has ended; an ended instance is left as it is.",
            ),
        },
        f"{prefix}/instances/{{instanceID}}/history": {
            "get": op(
                "getInstanceHistory",
                "instances",
                "An instance's stage history",
                _responses(
                    {"200": _json("one entry per started stage", _data({"type": "array", "items": _ref("StageHistory")}))},
                    "401",
                    "403",
                    "404",
                    "503",
                ),
                security=READ,
                parameters=[INSTANCE_ID],
            ),
        },
        f"{prefix}/instances/{{instanceID}}/stages/{{number}}/history": {
            "get": op(
                "getInstanceStageHistory",
                "instances",
                "A stage's activity history",
                _responses(
                    {"200": _json("one entry per stack call the stage made", _data({"type": "array", "items": _ref("ActivityHistory")}))},
                    "401",
                    "403",
                    "404",
                    "503",
                ),
                security=READ,
                parameters=[INSTANCE_ID, _path("number", "the stage's index; not a started stage: 404", {"type": "integer", "minimum": 0})],
            ),
        },
        f"{prefix}/triggers": {
            "get": op(
                "listTriggers",
                "triggers",
                "List triggers",
                _responses(_list(version, "Trigger", "triggers"), *list_errors),
                security=READ,
                parameters=[_query("name", STRING, "only those whose name holds this, ignoring case"), *pages],
            ),
            "post": op(
                "createTrigger",
                "triggers",
                "Create a trigger",
                _responses({"201": _json("the trigger created", _data(_ref("Trigger")))}, "400", "401", "403", "404", "413", "503"),
                security=WRITE,
                body=_body("The trigger.", {JSON: _ref("TriggerData")}),
                description="Its expressions must compile; its workflow must be live (else 404).",
            ),
        },
        f"{prefix}/triggers/{{triggerID}}": {
            "get": op(
                "readTrigger",
                "triggers",
                "Read a trigger",
                _responses({"200": _json("the trigger", _data(_ref("Trigger")))}, "401", "403", "404", "503"),
                security=READ,
                parameters=[TRIGGER_ID],
            ),
            "delete": op(
                "deleteTrigger",
                "triggers",
                "Delete a trigger",
                _responses(NO_CONTENT, "401", "403", "404", "503"),
                security=WRITE,
                parameters=[TRIGGER_ID],
            ),
        },
        f"{prefix}/triggers/{{triggerID}}/occurrences": {
            "get": op(
                "listTriggersOccurrences",
                "triggers",
                "A trigger's occurrences",
                _responses(_list(version, "Occurrence", "what the trigger did for each event it matched"), *list_errors),
                security=READ,
                parameters=[TRIGGER_ID, *pages],
            ),
        },
    }
    if version == "v2":
        paths["/v2/triggers/{triggerID}/test"] = {
            "post": op(
                "testTrigger",
                "triggers",
                "Test a trigger against a payload",
                _responses(
                    {"200": _json("what its filter and variables give; nothing is started", _data(_ref("TriggerTest")))},
                    "400",
                    "401",
                    "403",
                    "404",
                    "413",
                    "503",
                ),
                security=WRITE,
                parameters=[TRIGGER_ID],
                body=_body("The event payload, an object; may be empty.", {JSON: ANY_OBJECT}, required=False),
            )
        }
    return paths


def _service() -> dict[str, dict[str, Operation]]:
    """The operations outside the versions: service info, auth, events, this documentation."""
    info = {"200": _json("the server's version", _ref("ServerInfo"))}
    token_form = _object(
        {"grant_type": {"type": "string", "enum": ["client_credentials"]}},
        {"client_id": STRING, "client_secret": STRING, "scope": {"type": "string", "description": "space-separated scopes"}},
    )
    oauth_error = _json("an RFC 6749 error", _ref("OAuthError"))
    document = {"200": _json("this document", {"type": "object"})}
    return {
        "/_info": {"get": _operation("getServerInfo", "service", "Server info (v1)", info, security=PUBLIC)},
        "/v2/_info": {"get": _operation("v2GetServerInfo", "service", "Server info (v2)", info, security=PUBLIC)},
        "/_healthcheck": {
            "get": _operation(
                "healthcheck",
                "service",
                "Health check",
                _responses({"200": _json("the database and Temporal both answer", _ref("Health"))}, "503"),
                security=PUBLIC,
            ),
        },
        TOKEN_PATH: {
            "post": _operation(
                "getToken",
                "auth",
                "Get an access token (OAuth2 client credentials)",
                {
                    "200": _json("a bearer token", _ref("Token")),
                    "400": oauth_error,
                    "401": {**oauth_error, "headers": {"WWW-Authenticate": {"required": True, "schema": STRING}}},
                    "413": oauth_error,
                },
                security=PUBLIC,
                body=_body(
                    "Client credentials in the form, or with HTTP Basic (not both). With auth off, anyone gets a token.",
                    {"application/x-www-form-urlencoded": token_form},
                ),
            ),
        },
        DISCOVERY_PATH: {
            "get": _operation(
                "getOpenIDConfiguration",
                "auth",
                "The token issuer's metadata (OpenID Connect Discovery, RFC 8414)",
                {"200": _json("where its token endpoint and key set are", _ref("IssuerMetadata"))},
                security=PUBLIC,
            ),
        },
        KEYS_PATH: {
            "get": _operation(
                "getKeySet",
                "auth",
                "The token issuer's public keys (JWKS)",
                {"200": _json("the keys its tokens are signed with; none for a shared-secret issuer", _ref("KeySet"))},
                security=PUBLIC,
            ),
        },
        "/events": {
            "post": _operation(
                "ingestEvent",
                "events",
                "Ingest a stack event",
                _responses(NO_CONTENT, "400", "401", "403", "413", "503"),
                security=WRITE,
                parameters=[
                    _header("Message-Uuid", "the message id: a redelivery with the same id is processed once"),
                    _header("Message-Metadata", "a JSON map, accepted and ignored"),
                ],
                body=_body("The event envelope (docs/events.md).", {JSON: _ref("EventEnvelope")}),
                description="A message that can never be processed is answered 4xx and kept as a dead letter.",
            ),
        },
        "/v2/events/dead-letters": {
            "get": _operation(
                "v2ListDeadLetters",
                "events",
                "List dead letters (v2)",
                _responses(
                    {"200": _json("messages that could not be processed, newest first", _cursor("DeadLetter"))}, "400", "401", "403", "503"
                ),
                security=READ,
                parameters=PAGINATION,
            ),
        },
        "/metrics": {
            "get": _operation(
                "getMetrics",
                "service",
                "Metrics, in Prometheus' text format (docs/operations.md)",
                _responses(
                    {"200": {"description": "Flows' metrics, then Temporal's", "content": {"text/plain": {"schema": STRING}}}}, "401", "403"
                ),
                security=READ,
            ),
        },
        "/openapi.json": {"get": _operation("getOpenAPI", "documentation", "This document", document, security=PUBLIC)},
        "/v2/openapi.json": {"get": _operation("v2GetOpenAPI", "documentation", "This document", document, security=PUBLIC)},
        "/docs": {
            "get": _operation(
                "getDocs",
                "documentation",
                "This document as a web page",
                {"200": {"description": "an HTML page", "content": {"text/html": {"schema": STRING}}}},
                security=PUBLIC,
            ),
        },
    }


TAGS = [
    {"name": "workflows", "description": "Workflow definitions, and running them."},
    {"name": "instances", "description": "Instances: their state, events, abort and histories."},
    {"name": "triggers", "description": "Triggers: start a workflow when the stack publishes an event."},
    {"name": "events", "description": "Event ingestion from a Formance stack, and messages that failed."},
    {"name": "auth", "description": "The built-in OAuth2 token issuer."},
    {"name": "service", "description": "Version, health and metrics."},
    {"name": "documentation", "description": "This document."},
]


@lru_cache(maxsize=16)
def _document_text(version: str, origin: str) -> str:
    return json.dumps(document(version, origin))


def document(version: str, origin: str) -> dict[str, Any]:
    """The OpenAPI document of this API, served by a Flows of this version at `origin` (the
    token URL must be absolute: OpenAPI wants a URL there, and it is the origin's, whatever prefix
    the API is called under)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Flows: the Formance Orchestration API", "version": version, "description": DESCRIPTION},
        "servers": [
            {"url": "/", "description": "the API at the root"},
            {"url": "/api/orchestration", "description": "the same, under the gateway prefix the SDKs call"},
        ],
        "tags": TAGS,
        "paths": {**_versioned("v1"), **_versioned("v2"), **_service()},
        "components": {
            "schemas": SCHEMAS,
            "responses": RESPONSES,
            "securitySchemes": {
                OAUTH: {
                    "type": "oauth2",
                    "description": "Used when the server runs with --auth-clients.",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": origin + TOKEN_PATH,
                            "scopes": {READ_SCOPE: "read the API", WRITE_SCOPE: "read and change anything"},
                        }
                    },
                }
            },
        },
    }


_HOST = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


def _origin(request: Request) -> str:
    """Where the caller reached us, for the token URL; a `Host` that is no host name is ignored."""
    host = request.headers.get("host", "")
    if not _HOST.fullmatch(host):
        server = request.scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{request.scope.get('scheme', 'http')}://{host}"


async def openapi_json(request: Request) -> Response:
    return Response(_document_text(application(request).version, _origin(request)), media_type=JSON)


async def docs_page(request: Request) -> Response:
    return HTMLResponse(_page_text(application(request).version, _origin(request)))


# -- the page ------------------------------------------------------------------------------------

METHODS = ("get", "post", "put", "delete")


@lru_cache(maxsize=16)
def _page_text(version: str, origin: str) -> str:
    return render_page(document(version, origin))


def render_page(spec: dict[str, Any]) -> str:
    """The document as one HTML page: operations grouped by tag, then the schemas they name."""
    info = spec["info"]
    sections = [_tag_section(spec, tag) for tag in spec["tags"]]
    schemas = "".join(_schema_section(name, schema) for name, schema in spec["components"]["schemas"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(info["title"])}</title>
<style>
body {{ font: 15px/1.5 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; }}
code, pre {{ font-family: ui-monospace, monospace; font-size: 13px; }}
.op {{ border: 1px solid #ccc; border-radius: 4px; padding: 0 1rem; margin: 1rem 0; }}
.method {{ font-weight: bold; text-transform: uppercase; }}
table {{ border-collapse: collapse; margin: .5rem 0; }} td, th {{ border: 1px solid #ddd; padding: 2px 8px; text-align: left; }}
</style></head><body>
<h1>{escape(info["title"])} <small>{escape(info["version"])}</small></h1>
<p>The document: <a href="openapi.json">openapi.json</a> (OpenAPI {escape(spec["openapi"])}).</p>
{_paragraphs(info["description"])}
{"".join(sections)}
<h2 id="schemas">Schemas</h2>
{schemas}
</body></html>
"""


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_inline(paragraph)}</p>" for paragraph in text.split("\n\n"))


def _inline(text: str) -> str:
    """Escaped text with `code` spans."""
    parts = escape(text).split("`")
    return "".join(f"<code>{part}</code>" if index % 2 else part for index, part in enumerate(parts))


def _tag_section(spec: dict[str, Any], tag: dict[str, str]) -> str:
    operations = [
        _operation_html(method, path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS and tag["name"] in operation.get("tags", ())
    ]
    return f'<h2 id="{escape(tag["name"])}">{escape(tag["name"])}</h2><p>{_inline(tag["description"])}</p>{"".join(operations)}'


def _operation_html(method: str, path: str, operation: Operation) -> str:
    parts = [
        f'<div class="op" id="{escape(operation["operationId"])}">',
        f'<h3><span class="method">{method}</span> <code>{escape(path)}</code></h3>',
        f"<p>{_inline(operation['summary'])}. {_inline(operation.get('description', ''))}</p>",
        f"<p>Auth: {_scopes(operation['security'])}</p>",
    ]
    if "parameters" in operation:
        rows = [
            [
                f"<code>{escape(p['name'])}</code>",
                p["in"],
                _type(p["schema"]),
                "yes" if p.get("required") else "",
                _inline(p.get("description", "")),
            ]
            for p in operation["parameters"]
        ]
        parts.append(_table(["parameter", "in", "type", "required", "description"], rows))
    if "requestBody" in operation:
        body = operation["requestBody"]
        rows = [[f"<code>{escape(media)}</code>", _type(content["schema"])] for media, content in body["content"].items()]
        required = "required" if body.get("required") else "optional"
        parts.append(f"<p>Body ({required}): {_inline(body.get('description', ''))}</p>{_table(['media type', 'schema'], rows)}")
    rows = [[status, *_response(response)] for status, response in operation["responses"].items()]
    parts.append(_table(["status", "description", "body"], rows))
    parts.append("</div>")
    return "".join(parts)


def _scopes(security: list[dict[str, list[str]]]) -> str:
    scopes = [scope for requirement in security for scope in requirement.get(OAUTH, [])]
    if not scopes:
        return "none"
    return " or ".join(f"<code>{escape(scope)}</code>" for scope in scopes) + " (when auth is on)"


def _response(response: dict[str, Any]) -> list[str]:
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[-1]
        response = RESPONSES[name]
    schemas = [_type(content["schema"]) for content in response.get("content", {}).values()]
    return [_inline(response["description"]), ", ".join(schemas)]


def _type(schema: Schema) -> str:
    """A schema in a few words, schemas named by a link."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    choices: list[Schema] = schema.get("anyOf") or schema.get("oneOf") or []
    if choices:
        return " | ".join(_type(choice) for choice in choices)
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    if kind == "object" and "properties" in schema:
        fields = ", ".join(f"{escape(name)}: {_type(field)}" for name, field in schema["properties"].items())
        return f"{{{fields}}}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"object of {_type(schema['additionalProperties'])}"
    details = [schema["format"]] if "format" in schema else []
    details += [" | ".join(json.dumps(value) for value in schema["enum"])] if "enum" in schema else []
    return escape(kind) + (f" ({escape(', '.join(details))})" if details else "")


def _schema_section(name: str, schema: Schema) -> str:
    description = f"<p>{_inline(schema['description'])}</p>" if "description" in schema else ""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    rows = [
        [f"<code>{escape(field)}</code>", _type(value), "yes" if field in required else "", _inline(value.get("description", ""))]
        for field, value in properties.items()
    ]
    table = _table(["field", "type", "required", "description"], rows) if rows else f"<p>{_type(schema)}</p>"
    return f'<h3 id="schema-{escape(name)}">{escape(name)}</h3>{description}{table}'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{header}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"
