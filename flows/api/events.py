"""HTTP event ingestion: `POST /events` (also served as `POST /api/orchestration/events`).

Accepts exactly what the Formance stack's HTTP publisher (go-libs `publish`, watermill-http)
sends, one request per message, so a stack whose topic mapping points at this URL, e.g.
`PUBLISHER_HTTP_ENABLED=true PUBLISHER_TOPIC_MAPPING=*:https://flows.example/api/orchestration/events`,
feeds the triggers with no broker:

* body: the event envelope JSON
  `{"idempotency_key", "date", "app", "version", "type", "payload"}` (`type` and `payload`
  required);
* header `Message-Uuid`: the message id; a redelivery with the same id is processed once (without
  it, the message gets a random id and is not de-duplicated);
* header `Message-Metadata` (optional, JSON map, e.g. `otel-context`): accepted and ignored.

Answers 204 once the message is handled (the matching triggers fired and their occurrences
recorded, or nothing matched). A message that cannot be processed, now or ever, is answered 4xx so
that the publisher stops redelivering it, and kept as a dead letter (flows.triggers.listener):
413 for a body over `MAX_EVENT_BODY`, 400 VALIDATION for one that is not a storable envelope (not
JSON, nested too deep, invalid Unicode, NUL, …) or that fails for a reason no retry fixes. Only an
outage (database, Temporal unavailable) is a 503, for the publisher to retry. Behind the same auth
as the API: with auth on, a token with `orchestration:write` is required.

`GET /v2/events/dead-letters` lists the dead letters, newest first, with v2 cursor pagination.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from flows.api import rendering
from flows.api.bodies import BodyTooLarge, read_body
from flows.api.errors import error_response
from flows.api.pagination import cursor_body, page_query
from flows.api.responses import JSONResponse
from flows.api.state import application

MESSAGE_UUID = "message-uuid"
MAX_EVENT_BODY = 4 * 1024 * 1024
"""Stack events are a few KiB; a batch of committed transactions stays far below this."""


async def ingest_event(request: Request) -> Response:
    events = application(request).events
    message_id = request.headers.get(MESSAGE_UUID) or str(uuid.uuid4())
    try:
        body = await read_body(request, max_body=MAX_EVENT_BODY)
    except BodyTooLarge as error:
        await events.refuse(message_id, error.message, error.received)
        response = error_response(error.status, error.code, error.message)
        # Else the server would go on reading (and dropping) the rest of a body of any size.
        response.headers["Connection"] = "close"
        return response
    await events.ingest(body, message_id)
    return Response(status_code=204)


async def list_dead_letters(request: Request) -> Response:
    query = page_query(request, dict)
    page = await application(request).events.dead_letters(query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.dead_letter))
