"""Keep freed chunk arrays in the process instead of returning them to the OS.

A chunk of draws allocates arrays of a few MB to ~25 MB and frees them when the chunk is
folded in. With the C library's default settings every such array is a fresh ``mmap``
(above 128 kB, or above a threshold that moves with what was freed) and goes back to the
OS when freed, so the next chunk page-faults and zero-fills the same memory again: seconds
of system CPU over a national run. :func:`keep_freed_memory` raises glibc's thresholds once
per process so that freed memory is reused by the next chunk (``malloc`` still returns
memory above the trim threshold, and peak memory is what the chunks hold at once).

It changes nothing but where memory comes from: results are the same bit for bit. On other
C libraries (macOS, Windows, musl) it does nothing. It tunes the whole process, so the library
never calls it on its own: the ``simulate`` and ``solve --probability`` commands (which own
their process) do, and a notebook or a Dask worker may opt in (``docs/scale-out.md`` gives the
equivalent ``MALLOC_*`` environment settings for workers).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import threading

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD", "TOP_PAD"]

# glibc mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest: arrays up to 32 MB come from the heap
TRIM_THRESHOLD = 512 << 20  # free memory kept before the heap is trimmed
TOP_PAD = 64 << 20  # grow the heap in steps of 64 MB

_lock = threading.Lock()
_done = False


def keep_freed_memory() -> bool:
    """Tune glibc ``malloc`` for chunked array work (once per process); True if tuned."""
    global _done
    with _lock:
        if _done:
            return True
        _done = True
        if not sys.platform.startswith("linux"):
            return False
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            mallopt = libc.mallopt
        except (OSError, AttributeError):
            return False
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
        ok = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        ok &= mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
        ok &= mallopt(_M_TOP_PAD, TOP_PAD)
        return bool(ok)
