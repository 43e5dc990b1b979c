"""Keep freed memory in the process (glibc): every step allocates and frees the same large
tensors again and again (a flow's activations over 20 000 points at each solver stage, the
stable target's (B, N) float64 weights at each training step). By default glibc hands such
blocks back to the kernel when they are freed, and the next call faults the pages in again:
a coverage job spent a sixth of its time in the kernel, a training step took 41 ms instead
of 34 (docs/performance.md). An allocation policy only: every result stays bitwise the same."""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt parameters (glibc's malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
# glibc's largest mmap threshold on 64-bit systems; blocks above it are still mapped
MMAP_THRESHOLD_MAX = 32 * 2**20
TRIM_THRESHOLD = 2**30


def keep_freed_memory() -> bool:
    """Serve blocks up to 32 MiB from the heap and return freed heap memory to the kernel only
    beyond 1 GiB. True where applied (glibc), False elsewhere (musl, macOS, Windows)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
