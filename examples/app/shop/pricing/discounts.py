"""Discounts: buy three or more of one item, get 10% off that line."""

from __future__ import annotations

from decimal import Decimal

BULK_QTY = 3
BULK_RATE = Decimal("0.10")


def apply_discounts(lines) -> Decimal:
    """The discounted subtotal of (item, qty) lines."""
    total = Decimal("0")
    for item, qty in lines:
        line = item.price * qty
        if qty >= BULK_QTY:
            line -= line * BULK_RATE
        total += line
    return total
