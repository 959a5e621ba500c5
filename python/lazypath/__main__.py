"""`python -m lazypath ...`: the same as the `lazypath` command."""

from lazypath.cli import console_main

if __name__ == "__main__":
    console_main()
