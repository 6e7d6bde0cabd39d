"""The trainer's glibc malloc settings: a freed step-sized buffer stays mapped for the next step."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ovr_alpr.train.malloc import _glibc

# In a fresh process: malloc a 24 MiB block (about one bf16 activation of a batch-128 reader step), free it,
# and report glibc's counters of mmapped bytes and heap bytes after each.
_PROBE = """
import ctypes, json, sys
from ovr_alpr.train.malloc import _glibc, keep_freed_memory
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                               "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = _glibc()
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
applied = keep_freed_memory() if sys.argv[1] == "keep" else None
before = libc.mallinfo2()
block = libc.malloc(24 << 20)
held = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(json.dumps({"applied": applied, "mmapped_held": held.hblkhd - before.hblkhd,
                  "heap_after_free": after.arena - before.arena}))
"""


def _probe(mode: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(_glibc() is None or not hasattr(_glibc(), "mallinfo2"), reason="needs glibc >= 2.33")
def test_a_freed_step_buffer_stays_in_the_heap_instead_of_being_unmapped():
    default = _probe("default")
    assert default["mmapped_held"] >= 24 << 20  # glibc's default: its own mmap, unmapped again on free
    assert default["heap_after_free"] < 24 << 20

    kept = _probe("keep")
    assert kept["applied"] is True
    assert kept["mmapped_held"] == 0  # from the heap ...
    assert kept["heap_after_free"] >= 24 << 20  # ... which keeps it mapped after free, for the next step
