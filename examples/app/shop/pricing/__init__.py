"""Pricing rules: discounts and tax."""

from shop.pricing.discounts import apply_discounts
from shop.pricing.tax import tax_for

__all__ = ["apply_discounts", "tax_for"]
