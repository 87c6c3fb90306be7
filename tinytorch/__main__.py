"""``python -m tinytorch ARGS`` runs the same command line as ``tinytorch ARGS``."""

from __future__ import annotations

from tinytorch.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
