"""`python -m lazypath ...`: the same as the `lazypath` command."""

import sys

from lazypath.cli import main

if __name__ == "__main__":
    sys.exit(main())
