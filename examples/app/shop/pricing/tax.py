"""Tax rates by catalogue category."""

from __future__ import annotations

from decimal import Decimal

RATES = {
    "food": Decimal("0.07"),
    "drink": Decimal("0.07"),
    "merch": Decimal("0.19"),
}


def tax_for(item) -> Decimal:
    return RATES.get(item.category, Decimal("0.19"))
