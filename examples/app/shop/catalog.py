"""The product catalogue, read from a CSV file that ships inside the package."""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from decimal import Decimal

DATA_DIR = os.path.join(os.path.dirname(__file__), "data")


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    price: Decimal
    category: str


def load_catalog(path: str | None = None) -> dict[str, Item]:
    """Items by SKU, from `path` or the bundled data/catalog.csv."""
    path = path or os.path.join(DATA_DIR, "catalog.csv")
    with open(path, newline="", encoding="utf-8") as f:
        rows = csv.DictReader(f)
        return {
            r["sku"]: Item(r["sku"], r["name"], Decimal(r["price"]), r["category"]) for r in rows
        }
