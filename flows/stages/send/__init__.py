"""The `send` stage: its parameters (`parameters`), the moves that carry them out for each source
→ destination combination (`moves`), and the stage that ties them (`stage`)."""

from flows.stages.send.parameters import (
    Account,
    Amount,
    Destination,
    PaymentDestination,
    PaymentSource,
    SendParameters,
    Source,
    Wallet,
)
from flows.stages.send.stage import Send

__all__ = [
    "Account",
    "Amount",
    "Destination",
    "PaymentDestination",
    "PaymentSource",
    "Send",
    "SendParameters",
    "Source",
    "Wallet",
]
