"""Shared test fixtures and the guard that tests run against the installed build."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import bpftime

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
UBPF_TESTS = SHARED / "testdata" / "ubpf" / "tests"


def pytest_configure(config: pytest.Config) -> None:
    pkg = Path(bpftime.__file__).resolve().parent
    if pkg == REPO / "bpftime":
        raise pytest.UsageError(
            "bpftime was imported from the source tree, which has no compiled extension; "
            "install it (pip install .) and run pytest so that the installed build is tested"
        )


ENGINES = ["interp", "jit"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def is_root() -> bool:
    return os.geteuid() == 0
