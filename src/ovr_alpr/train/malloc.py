"""Keeps glibc's malloc from giving a training step's buffers back to the kernel, only to fault them in again.

A CPU training step allocates and frees the same few activation buffers every step. With glibc's default
settings the larger ones come from fresh mmap()s and the top of the heap is trimmed as they are freed, so
every step page-faults the same memory back in (about 7 % of the reader trainer's CPU time went to the
kernel). `keep_freed_memory()` raises the mmap threshold, trim threshold and top pad at run time
(`mallopt`, as the `MALLOC_*_` environment variables would at start-up) so freed buffers stay mapped for the
next step. It changes where memory comes from, never what is computed. Loader processes forked after the
call inherit it. On a C library other than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging

log = logging.getLogger(__name__)

# mallopt parameter numbers of glibc's <malloc.h>
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20  # glibc's largest: a block under 32 MiB comes from the heap and is reused there
TRIM_THRESHOLD = 1 << 30  # give the heap's top back to the kernel only past 1 GiB free
TOP_PAD = 256 << 20  # grow the heap 256 MiB at a time


@functools.cache
def _glibc():
    """The C library through ctypes when it is glibc (the only one with both functions), else None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt") else None


def keep_freed_memory() -> bool:
    """Sets the three glibc malloc settings for this process (and its later forks); False where not glibc."""
    libc = _glibc()
    if libc is None:
        log.debug("not glibc: malloc settings left as they are")
        return False
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD), (M_TRIM_THRESHOLD, TRIM_THRESHOLD), (M_TOP_PAD, TOP_PAD))
    refused = [p for p, value in settings if libc.mallopt(ctypes.c_int(p), ctypes.c_int(value)) != 1]
    if refused:
        log.warning("glibc refused malloc setting(s) %s; training runs as it would without them", refused)
    return not refused
