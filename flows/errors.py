"""The errors a user can cause by how they start Flows: a flag's value, the data dir, a
dependency out of reach. The `flows` command tells each in one line and exits with status 2;
anything else escaping is a bug, and keeps its traceback."""

from __future__ import annotations


class FlowsError(Exception):
    """A mistake of the user's or of their environment, told in one line without a traceback.

    Its message never quotes a secret (a client's secret, a signing key, a password)."""


class ConfigurationError(FlowsError):
    """A flag's (or its environment variable's) value is not valid."""


class StartupError(FlowsError):
    """Configuration or environment that keeps the service from starting."""
