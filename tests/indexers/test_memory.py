"""Freed heap memory goes back to the system, and bulk jobs collect garbage rarely."""

from __future__ import annotations

import gc
import platform

import pytest

from headstart.memory import BULK_GC_THRESHOLD, _malloc_trim, fewer_collections, release_free_memory


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is a glibc function")
def test_trim_found_on_glibc() -> None:
    assert _malloc_trim() is not None

    release_free_memory()


def test_fewer_collections_restores_the_collector() -> None:
    before = gc.get_threshold()

    with fewer_collections():
        inside = gc.get_threshold()
        frozen = gc.get_freeze_count()

    assert inside == (BULK_GC_THRESHOLD, *before[1:])
    assert frozen > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_fewer_collections_restores_after_an_error() -> None:
    before = gc.get_threshold()

    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the job failed")

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
