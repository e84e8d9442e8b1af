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
recorded, or nothing matched); 400 VALIDATION when the body is not an envelope. Behind the same
auth as the API: with auth on, a token with `orchestration:write` is required.
"""

from __future__ import annotations

import json
import uuid

from starlette.requests import Request
from starlette.responses import Response

from flows.api.errors import invalid
from flows.api.services import services
from flows.triggers.listener import InvalidEnvelope

MESSAGE_UUID = "message-uuid"


async def ingest_event(request: Request) -> Response:
    handler = services(request).events
    if handler is None:
        raise invalid("event ingestion is not enabled on this process")
    body = await request.body()
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid("the body must be a JSON event envelope") from None
    message_id = request.headers.get(MESSAGE_UUID) or str(uuid.uuid4())
    try:
        await handler.handle(envelope, message_id)
    except InvalidEnvelope as error:
        raise invalid(str(error)) from None
    return Response(status_code=204)
