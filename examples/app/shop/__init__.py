"""shop: a tiny demo app shipped to Ray workers with lazypath.

import shop
cart = shop.Cart(shop.load_catalog())
cart.add("espresso", 2)
cart.total()            # Decimal, discounts and tax applied
"""

from shop._version import __version__
from shop.cart import Cart
from shop.catalog import Item, load_catalog


def version() -> str:
    """The app's version string (edited by scripts/demo.py)."""
    return __version__


__all__ = ["Cart", "Item", "load_catalog", "version", "__version__"]
