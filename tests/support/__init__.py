"""Test helpers shared across the suite (private PostgreSQL cluster, ...)."""
