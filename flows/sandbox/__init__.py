"""The sandbox stack: Ledger, Wallets and Payments served in-process on the service's database.

`flows.sandbox.app.create_sandbox_app(database)` is the entry point; see that module.
"""
