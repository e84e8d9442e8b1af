"""The sandbox stack: Ledger, Wallets and Payments served in-process on the service's database.

Everything it owns lives here, and the core never imports it; whoever mounts it
(flows/composition.py) uses three things:

* `flows.sandbox.app.create_sandbox_app(database)`: the ASGI application (test hooks only on request);
* `flows.sandbox.scopes`: the gateway paths it serves and the OAuth2 scopes that guard them;
* `flows.sandbox.tables.MIGRATIONS`: its tables' own Alembic history (flows/sandbox/migrations),
  to run on the database before mounting it.
"""
