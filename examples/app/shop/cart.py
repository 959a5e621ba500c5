"""A shopping cart: quantities by SKU, priced with the pricing rules."""

from __future__ import annotations

from decimal import Decimal

from shop.catalog import Item
from shop.pricing import apply_discounts, tax_for


class Cart:
    def __init__(self, catalog: dict[str, Item]):
        self._catalog = catalog
        self._lines: dict[str, int] = {}

    def add(self, sku: str, qty: int = 1) -> Cart:
        if sku not in self._catalog:
            raise KeyError(f"unknown SKU {sku!r}")
        if qty <= 0:
            raise ValueError(f"quantity must be positive, got {qty}")
        self._lines[sku] = self._lines.get(sku, 0) + qty
        return self

    def lines(self) -> list[tuple[Item, int]]:
        return [(self._catalog[sku], qty) for sku, qty in sorted(self._lines.items())]

    def subtotal(self) -> Decimal:
        return sum((item.price * qty for item, qty in self.lines()), Decimal("0"))

    def total(self) -> Decimal:
        """Subtotal less discounts, plus tax, rounded to cents."""
        lines = self.lines()
        discounted = apply_discounts(lines)
        taxed = discounted + sum(
            (tax_for(item) * item.price * qty for item, qty in lines), Decimal("0")
        )
        return taxed.quantize(Decimal("0.01"))
