"""Names and syntax of the Formance ledger that Flows writes into and the sandbox ledger checks.

The ground floor: stages splice these into Numscripts and requests, the sandbox enforces them.
"""

from __future__ import annotations

import re

WORLD = "world"
"""The ledger's unbounded source and sink."""

ADDRESS = re.compile(r"[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*")
"""An account address: segments of letters, digits, `_` and `-`, separated by `:`."""

ASSET = re.compile(r"[A-Z][A-Z0-9]{0,16}(_[A-Z]{1,16})?(/[0-9]{1,6})?")
"""An asset (ledger v2.3+): an optional `_SUFFIX` and `/decimals`."""
