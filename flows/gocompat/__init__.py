"""What Flows reads and writes the way the Go reference does: durations (`durations`), RFC 3339
dates (`timestamps`) and renderings of values (`values`). The ground floor: imports nothing of
Flows, so that stages, triggers and the API all share it."""
