"""Shared fixtures: the location of ../shared, failing clearly when it is missing."""
from __future__ import annotations

import pytest

from wasmbox.paths import shared_dir


@pytest.fixture(scope="session")
def shared():
    """The shared corpus directory; fails the test (not skip) when missing."""
    try:
        return shared_dir()
    except FileNotFoundError as e:
        pytest.fail(str(e))
