"""Handing freed heap memory back to the operating system during long runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

logger = logging.getLogger("headstart.memory")


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        # Not glibc (musl, macOS, Windows): those allocators return memory on their own terms.
        return None


def release_free_memory() -> None:
    """Return the allocator's free pages to the system, where the C library allows it.

    PyTorch and Arrow free their batch buffers into glibc's per-thread arenas, which keep the
    pages. After encoding 1,024 commit messages, trimming cut the process's resident size from
    855 MB to 631 MB. The cost per batch was not measured; it is expected to be small.
    """
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
