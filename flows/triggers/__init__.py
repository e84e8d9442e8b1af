"""Triggers: event matching and the expression language (see `flows.triggers.expr`)."""
