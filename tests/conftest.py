"""Shared test fixtures and paths."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

import bpftime

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
UBPF_TESTS = SHARED / "testdata" / "ubpf" / "tests"


def pytest_report_header(config: pytest.Config) -> str:
    # bpftime/__init__.py swaps a source checkout for the installed build, so this is
    # always the compiled package that pip installed
    return f"bpftime under test: {Path(bpftime.__file__).resolve().parent}"


ENGINES = ["interp", "jit"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _uprobe_skip_reason() -> str | None:
    import shutil

    from bpftime.uprobe import skip_reason

    if shutil.which("gcc") is None:
        return "needs gcc to build the victims"
    return skip_reason()


UPROBE_SKIP = _uprobe_skip_reason()
needs_uprobes = pytest.mark.skipif(UPROBE_SKIP is not None, reason=UPROBE_SKIP or "")


@pytest.fixture(scope="session")
def build_c(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Compile a C victim with gcc into a temporary folder (once per source and flags)."""
    out = tmp_path_factory.mktemp("victims")
    built: dict[tuple[str, tuple[str, ...]], Path] = {}

    def build(src: Path, name: str, *flags: str) -> Path:
        key = (str(src), flags)
        if key not in built:
            exe = out / name
            subprocess.run(["gcc", "-O2", "-g", "-pthread", *flags, "-o", str(exe), str(src)],
                           check=True)  # fmt: skip
            built[key] = exe
        return built[key]

    return build
