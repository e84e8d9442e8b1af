"""The client half of the `flows` command: `flows workflows|instances|triggers …` against a
server, over HTTP only (it imports nothing of the service, so it starts fast and works against
any Orchestration API, Flows or a Formance stack's gateway).

api.py makes the calls, auth.py gets OAuth2 tokens, rendering.py draws tables and timelines,
progress.py follows a running instance, commands.py is the command line."""
