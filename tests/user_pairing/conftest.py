from __future__ import annotations

from collections.abc import Iterator

import pytest

from .directory_server import Directories, serve


@pytest.fixture()
def directories() -> Directories:
    return Directories()


@pytest.fixture()
def base_url(directories: Directories) -> Iterator[str]:
    """The loopback URL of a fresh set of directories."""
    with serve(directories) as url:
        try:
            yield url
        finally:
            directories.release.set()  # let a deliberately slow handler finish
