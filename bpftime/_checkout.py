"""Importing bpftime from a source checkout that has no compiled extension.

The package folder sits at the repository root, so ``python -m bpftime`` or
``pytest`` run there find the source tree first, which lacks the Cython
extensions. ``load_installed`` then loads the installed build (``pip install .``)
in its place, so commands in the README work from the checkout and always run
the installed, compiled package. Without an installed build it raises an
ImportError that says what to do.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys
from pathlib import Path


def _installed_dir() -> Path | None:
    try:
        dist = importlib.metadata.distribution("bpftime")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file("bpftime"))).resolve()
    return path if (path / "__init__.py").is_file() else None


def load_installed() -> None:
    """Replace the half-imported source package in sys.modules by the installed one."""
    here = Path(__file__).resolve().parent
    target = _installed_dir()
    if target is None or target == here:
        raise ImportError(
            f"bpftime is being imported from the source checkout {here}, which has no compiled "
            "extension, and no installed build was found; run `pip install .` first"
        )
    spec = importlib.util.spec_from_file_location(
        "bpftime", target / "__init__.py", submodule_search_locations=[str(target)]
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the installed bpftime from {target}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bpftime"] = module
    spec.loader.exec_module(module)
