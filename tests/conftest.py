"""Shared test fixtures and paths."""

from __future__ import annotations

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
