"""``python -m bpftime``: see bpftime.cli."""

from .cli import main

raise SystemExit(main())
