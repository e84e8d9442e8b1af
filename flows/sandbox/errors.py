"""Errors as the stack's services answer them (go-libs `{"errorCode", "errorMessage"}`)."""

from __future__ import annotations

# Ledger v2 codes (docs/sandbox.md, input checks).
VALIDATION = "VALIDATION"
INSUFFICIENT_FUND = "INSUFFICIENT_FUND"
COMPILATION_FAILED = "COMPILATION_FAILED"
METADATA_OVERRIDE = "METADATA_OVERRIDE"
NO_POSTINGS = "NO_POSTINGS"
CONFLICT = "CONFLICT"
ALREADY_REVERT = "ALREADY_REVERT"
NOT_FOUND = "NOT_FOUND"
LEDGER_NOT_FOUND = "LEDGER_NOT_FOUND"
LEDGER_ALREADY_EXISTS = "LEDGER_ALREADY_EXISTS"
INTERNAL = "INTERNAL"
# Wallets and Payments codes that differ from the ledger's (docs/sandbox.md).
INTERNAL_ERROR = "INTERNAL_ERROR"
INVALID_ID = "INVALID_ID"
MISSING_OR_INVALID_BODY = "MISSING_OR_INVALID_BODY"


class StackError(Exception):
    """An error answer of a sandboxed service. `status` None with `code` None means an empty
    body (Wallets answers an unknown wallet with a bare 404)."""

    def __init__(self, status: int, code: str | None, message: str = "") -> None:
        super().__init__(message or code or str(status))
        self.status = status
        self.code = code
        self.message = message


class OutOfRange(StackError):
    """A VALIDATION error for an amount or volume beyond what the sandbox ledger keeps
    (flows.sandbox.names.MAX_AMOUNT): Wallets passes it on as the 400 it is."""

    def __init__(self, message: str) -> None:
        super().__init__(400, VALIDATION, message)


def validation(message: str) -> StackError:
    return StackError(400, VALIDATION, message)


def compilation_failed(message: str) -> StackError:
    return StackError(400, COMPILATION_FAILED, message)


def insufficient_fund(message: str) -> StackError:
    return StackError(400, INSUFFICIENT_FUND, message)


def not_found(message: str) -> StackError:
    return StackError(404, NOT_FOUND, message)
