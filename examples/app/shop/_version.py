"""The version of the shop app. scripts/demo.py bumps it to show a code update."""

__version__ = "1.0.0"
