"""``python -m mixem``: the ``mixem`` command line; with no arguments it runs ``mixem demo``."""

from mixem.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
