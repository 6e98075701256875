"""Shared test helpers: the deterministic data stream both the C reference program and the Python tests
draw from, and access to that program."""
import array
import gc
import os
import struct
import subprocess
import tracemalloc
import unittest

import qlow

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MASK64 = (1 << 64) - 1
HAVE_NUMPY = qlow.have_numpy()
needs_numpy = unittest.skipUnless(HAVE_NUMPY, "numpy is not installed for this interpreter")
if HAVE_NUMPY:
    import numpy as np  # noqa: F401


class Stream:
    """splitmix64, as in tests/python/cref.c: floats k/2^23 - 1 for 24-bit k (exact in float32)."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def floats(self, n):
        return array.array("f", [((self.u64() >> 40) - (1 << 23)) / float(1 << 23) for _ in range(n)])


def cref_path():
    return os.environ.get("QLOW_PY_CREF")


def run_cref(*args):
    """stdout bytes of the C reference program (tests/python/cref.c) run with `args`."""
    path = cref_path()
    if not path:
        raise unittest.SkipTest("QLOW_PY_CREF is not set (run through tests/checks/python.sh)")
    return subprocess.run([path] + [str(a) for a in args], check=True, stdout=subprocess.PIPE).stdout


def f32_bytes(values):
    """float32 bytes of a list/array.array/memoryview/ndarray (for bitwise comparisons)."""
    if HAVE_NUMPY and isinstance(values, np.ndarray):
        return np.ascontiguousarray(values, dtype=np.float32).tobytes()
    if isinstance(values, memoryview):
        return values.cast("B").tobytes()
    return array.array("f", values).tobytes()


def info(fmt, *args):
    print("INFO " + (fmt % args if args else fmt), flush=True)


def unpack_f32(raw):
    return struct.unpack("<%df" % (len(raw) // 4), raw)


def tracemalloc_growth(cycle, repeats):
    """Bytes Python-side memory grew over `repeats` calls of cycle(), after two warm-up calls."""
    cycle()
    gc.collect()
    tracemalloc.start()
    cycle()
    gc.collect()
    base = tracemalloc.take_snapshot()
    for _ in range(repeats):
        cycle()
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    return grown
