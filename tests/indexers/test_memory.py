"""Freed heap memory goes back to the system after each index batch."""

from __future__ import annotations

import platform

import pytest

from headstart.memory import _malloc_trim, release_free_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_trim_found_on_glibc() -> None:
    assert _malloc_trim() is not None

    release_free_memory()
