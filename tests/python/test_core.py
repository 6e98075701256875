"""Core API through the wrapper: loading and the ABI check, declarations, errors, handles, allocator
hook, views over every accepted kind of Python data."""
import array
import ctypes
import gc
import os
import re
import struct
import subprocess
import sys
import unittest

import qlow
from qlow import _lib, _buffers
from helpers import tracemalloc_growth, HAVE_NUMPY, ROOT, Stream, info, needs_numpy, run_cref

if HAVE_NUMPY:
    import numpy as np


def header_text():
    with open(os.path.join(ROOT, "include", "qlow.h")) as f:
        return f.read()


class TestLoading(unittest.TestCase):
    def test_abi_matches(self):
        self.assertEqual(qlow.abi_version(), qlow.ABI_VERSION)
        self.assertEqual(_lib.lib.qlow_sizeof_view(), ctypes.sizeof(qlow.View))
        self.assertEqual(ctypes.sizeof(qlow.View), 104 if ctypes.sizeof(ctypes.c_void_p) == 8 else 96)
        m = re.search(r"#define QLOW_ABI_VERSION (\d+)", header_text())
        self.assertEqual(int(m.group(1)), qlow.ABI_VERSION)
        info("python %s loaded %s (libqlow %s)", sys.version.split()[0], qlow.library_path(), qlow.version())

    def test_refuses_other_abi(self):
        with self.assertRaises(qlow.QlowAbiError) as cm:
            _lib.load([qlow.library_path()], expected_abi=qlow.ABI_VERSION + 1)
        self.assertIn("ABI mismatch", str(cm.exception))

    def test_refuses_other_view_size(self):
        with self.assertRaises(qlow.QlowAbiError) as cm:
            _lib.check_abi(_lib.lib, view_size=ctypes.sizeof(qlow.View) - 8)
        self.assertIn("sizeof(qlow_view)", str(cm.exception))

    def test_refuses_library_missing_functions(self):
        table = _lib.FUNCTIONS + [("qlow_no_such_function", [], None)]
        with self.assertRaises(qlow.QlowAbiError) as cm:
            _lib.declare(ctypes.CDLL(qlow.library_path()), table)
        self.assertIn("qlow_no_such_function", str(cm.exception))

    def test_refuses_non_qlow_library(self):
        libm = ctypes.util.find_library("m") if hasattr(ctypes, "util") else None
        import ctypes.util as cu
        libm = cu.find_library("m")
        if not libm:
            self.skipTest("no libm to load")
        with self.assertRaises(qlow.QlowAbiError):
            _lib.load([libm])

    def _import_in_child(self, env_value):
        env = dict(os.environ, QLOW_LIBRARY=env_value)
        code = "import qlow; print(qlow.library_path())"
        return subprocess.run([sys.executable, "-c", code], cwd=os.path.join(ROOT, "python"), env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)

    def test_env_var_discovery(self):
        ok = self._import_in_child(qlow.library_path())
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertEqual(ok.stdout.strip(), qlow.library_path())
        bad = self._import_in_child("/nonexistent/libqlow.so.1")
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("QLOW_LIBRARY", bad.stderr)

    def test_build_tree_discovery(self):
        env = {k: v for k, v in os.environ.items() if k != "QLOW_LIBRARY"}
        paths = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'python');"
                                "from qlow import _lib; print(_lib.candidate_paths()[0])"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, universal_newlines=True)
        first = paths.stdout.strip()
        if os.path.exists(os.path.join(ROOT, "lib", "libqlow.so.1")):
            self.assertEqual(first, os.path.join(ROOT, "lib", "libqlow.so.1"))

    def test_every_declared_function_is_exported(self):
        with open(os.path.join(ROOT, "tests", "abi", "exported_symbols.txt")) as f:
            exported = set(f.read().split())
        declared = set(name for name, _, _ in _lib.FUNCTIONS)
        self.assertEqual(declared - exported, set())
        missing = sorted(exported - declared)
        if missing:
            info("python wrapper does not declare yet: %s", " ".join(missing))
            if os.environ.get("QLOW_PY_STRICT") == "1":
                self.fail("undeclared exports: %s" % missing)

    def test_every_declared_function_has_types(self):
        for name, argtypes, restype in _lib.FUNCTIONS:
            fn = getattr(_lib.lib, name)
            self.assertEqual(fn.argtypes, argtypes, name)
            if restype == _lib.STATUS:
                self.assertIs(fn.restype, ctypes.c_int32, name)
                self.assertIsNotNone(fn.errcheck, name)
            else:
                self.assertIs(fn.restype, restype, name)

    def test_table_matches_header_prototypes(self):
        """Argument counts and qlow_status results agree with include/qlow.h's prototypes."""
        text = re.sub(r"/\*.*?\*/", "", header_text(), flags=re.S)
        protos = {}
        for m in re.finditer(r"QLOW_API\s+([^;(]*?)\b(qlow_\w+)\s*\(([^;]*?)\)\s*;", text, re.S):
            args = m.group(3).strip()
            nargs = 0 if args in ("", "void") else args.count(",") + 1
            protos[m.group(2)] = (m.group(1).strip(), nargs)
        for name, argtypes, restype in _lib.FUNCTIONS:
            self.assertIn(name, protos, name)
            ret, nargs = protos[name]
            self.assertEqual(len(argtypes), nargs, name)
            self.assertEqual(ret == "qlow_status", restype == _lib.STATUS, name)


class TestConstants(unittest.TestCase):
    def test_constants_match_header(self):
        sys.path.insert(0, os.path.join(ROOT, "tools"))
        import gen_py_constants
        found = dict(gen_py_constants.header_constants(header_text()))
        self.assertGreater(len(found), 50)
        missing = []
        for name, value in found.items():
            if hasattr(qlow.constants, name):
                self.assertEqual(getattr(qlow.constants, name), value, name)
            else:
                missing.append(name)
        if missing:
            info("python constants do not mirror yet (run tools/gen_py_constants.py): %s", " ".join(sorted(missing)))
            if os.environ.get("QLOW_PY_STRICT") == "1":
                self.fail("unmirrored constants: %s" % missing)

    def test_status_strings_match_header(self):
        for m in re.finditer(r'X\((QLOW_\w+),\s*(-?\d+),\s*"([^"]*)"\)', header_text()):
            self.assertEqual(qlow.status_string(int(m.group(2))), m.group(3))
        self.assertEqual(qlow.status_string(-98), "unknown status")


class TestErrors(unittest.TestCase):
    def test_error_carries_code_and_text(self):
        with qlow.Ctx() as ctx:
            with self.assertRaises(qlow.QlowError) as cm:
                ctx.set(qlow.QLOW_CTX_NUM_THREADS, 0)
        e = cm.exception
        self.assertEqual(e.code, qlow.QLOW_E_PARAM)
        self.assertEqual(e.message, qlow.status_string(qlow.QLOW_E_PARAM))
        self.assertEqual(e.function, "qlow_ctx_set_int")

    def test_null_pointers_raise_not_crash(self):
        with self.assertRaises(qlow.QlowError) as cm:
            _lib.lib.qlow_ctx_create(None, None)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NULL_POINTER)
        with self.assertRaises(qlow.QlowError) as cm:
            _lib.lib.qlow_ctx_get_int(None, qlow.QLOW_CTX_SEED, None)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NULL_POINTER)
        _lib.lib.qlow_ctx_destroy(None)
        _lib.lib.qlow_params_destroy(None)

    def test_closed_handle_raises(self):
        ctx = qlow.Ctx()
        ctx.close()
        ctx.close()
        with self.assertRaises(ValueError):
            ctx.get(qlow.QLOW_CTX_SEED)


class TestCtxParams(unittest.TestCase):
    def test_ctx_roundtrip(self):
        with qlow.Ctx(threads=3, seed=-77) as ctx:
            self.assertEqual((ctx.threads, ctx.seed), (3, -77))
            ctx.isa_max = qlow.QLOW_ISA_GENERIC
            self.assertEqual(ctx.isa_max, qlow.QLOW_ISA_GENERIC)
            self.assertGreaterEqual(ctx.isa_detected, 0)
            with self.assertRaises(qlow.QlowError):
                ctx.set(qlow.QLOW_CTX_ISA_DETECTED, 0)
            self.assertEqual(ctx.threads, 3, "rejected set leaves the value")

    def test_isa_avx2_vnni(self):
        # levels rank GENERIC < AVX2 < AVX2_VNNI (5) < AVX512 < AVX512_VNNI; without AVX-VNNI it runs AVX2
        with qlow.Ctx() as ctx:
            det = ctx.isa_detected
            ctx.isa_max = qlow.QLOW_ISA_AVX2_VNNI
            vnni = qlow.has_feature(qlow.QLOW_FEATURE_AVX_VNNI)
            if det in (qlow.QLOW_ISA_GENERIC, qlow.QLOW_ISA_AVX2):
                want = det
            else:
                want = qlow.QLOW_ISA_AVX2_VNNI if vnni else qlow.QLOW_ISA_AVX2
            self.assertEqual(ctx.isa_max, want)
            with self.assertRaises(qlow.QlowError):
                ctx.isa_max = 4

    def test_static_ctx(self):
        buf = bytearray(_lib.lib.qlow_ctx_estimate_size() + 64)
        ctx = qlow.Ctx.static(buf, threads=2)
        self.assertEqual(ctx.threads, 2)
        ctx.close()
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.Ctx.static(bytearray(4))
        self.assertEqual(cm.exception.code, qlow.QLOW_E_WORKSPACE_TOO_SMALL)

    def test_params_unknown_key(self):
        with qlow.Params() as p:
            with self.assertRaises(qlow.QlowError) as cm:
                p[99999] = 1
            self.assertEqual(cm.exception.code, qlow.QLOW_E_PARAM)
            with self.assertRaises(qlow.QlowError):
                p[99999]

    def test_param_bounds_match_c(self):
        names = re.findall(r"QLOW_PARAM_(?:INT|FLOAT)\((QLOW_\w+)",
                           open(os.path.join(ROOT, "src", "core", "param_keys.def")).read())
        known = [getattr(qlow.constants, n) for n in names if hasattr(qlow.constants, n)]
        if not known:
            self.skipTest("no parameter keys declared yet")
        for key in known:
            lo, hi, de, is_float = qlow.param_bounds(key)
            raw = run_cref("bounds", key)
            clo, chi, cde, cfl = struct.unpack("<dddi", raw)
            self.assertEqual((lo, hi, de, int(is_float)), (clo, chi, cde, cfl), key)
            with qlow.Params() as p:
                self.assertEqual(p[key], de)
                p[key] = hi
                self.assertEqual(p[key], hi)
                with self.assertRaises(qlow.QlowError):
                    p[key] = hi + (1.0 if is_float else 1) if hi < 1e300 else float("nan")
                self.assertEqual(p[key], hi, "rejected value leaves the old one")
                p.reset()
                self.assertEqual(p[key], de)


class TestFp16(unittest.TestCase):
    def test_conversions_bit_exact_with_c(self):
        n = 2000
        raw = run_cref("fp16", 7, n)
        vals = Stream(7).floats(n)
        out = bytearray()
        for i, v in enumerate(vals):
            x = struct.unpack("<f", struct.pack("<f", v * 2.0 ** ((i % 40) - 20)))[0]
            h, b = qlow.fp32_to_fp16(x), qlow.fp32_to_bf16(x)
            out += struct.pack("<HHf", h, b, qlow.fp16_to_fp32(h))
        self.assertEqual(bytes(out), raw)

    def test_special_values(self):
        self.assertEqual(qlow.fp32_to_fp16(1.0), 0x3C00)
        self.assertEqual(qlow.fp32_to_fp16(65520.0), 0x7C00)
        self.assertEqual(qlow.bf16_to_fp32(0x3F80), 1.0)
        self.assertNotEqual(qlow.fp16_to_fp32(qlow.fp32_to_fp16(float("nan"))),
                            qlow.fp16_to_fp32(qlow.fp32_to_fp16(float("nan"))))


class TestViews(unittest.TestCase):
    def assertSameView(self, a, b):
        for f in ("struct_size", "dtype", "ndim", "flags"):
            self.assertEqual(getattr(a, f), getattr(b, f), f)
        self.assertEqual(list(a.shape), list(b.shape))
        self.assertEqual(list(a.stride_bytes), list(b.stride_bytes))
        self.assertEqual(a.data, b.data)

    def test_array_described_like_c(self):
        data = array.array("f", range(12))
        d = qlow.describe(data, shape=(3, 4))
        self.assertSameView(d.view, _buffers.init_view_c(qlow.QLOW_DTYPE_F32, (3, 4), data.buffer_info()[0]))

    def test_list_and_memoryview(self):
        d = qlow.describe([[1, 2], [3, 4], [5, 6]])
        self.assertEqual(d.shape, (3, 2))
        got = (ctypes.c_float * 6).from_address(d.data)
        self.assertEqual(list(got), [1, 2, 3, 4, 5, 6])
        mv = memoryview(array.array("f", range(6))).cast("B").cast("f", [2, 3])
        self.assertEqual(qlow.describe(mv).shape, (2, 3))
        with self.assertRaises(ValueError):
            qlow.describe([[1, 2], [3]])
        with self.assertRaises(TypeError):
            qlow.describe(array.array("d", [1.0]), ndim=1)
        with self.assertRaises(TypeError):
            qlow.describe(object())
        with self.assertRaises(TypeError):
            qlow.describe(bytes(16), writable=True)

    def test_pointer_alone_keeps_memory(self):
        ptr = qlow.describe([[1.5, 2.5, 3.5]]).ptr  # the Described object is gone at once
        gc.collect()
        junk = [array.array("f", [9.0] * 3) for _ in range(100)]
        self.assertEqual(list((ctypes.c_float * 3).from_address(ptr._obj.data)), [1.5, 2.5, 3.5])
        del junk

    def test_readonly_buffer_is_copied(self):
        raw = array.array("f", [1.5, 2.5]).tobytes()
        d = qlow.describe(memoryview(raw).cast("f"), ndim=1)
        self.assertEqual(list((ctypes.c_float * 2).from_address(d.data)), [1.5, 2.5])

    @needs_numpy
    def test_numpy_in_place(self):
        a = np.arange(24, dtype=np.float32).reshape(4, 6)
        d = qlow.describe(a)
        self.assertEqual(d.data, a.ctypes.data, "float32 ndarray is described without a copy")
        s = a[::2, 1::2]
        ds = qlow.describe(s)
        self.assertEqual(list(ds.view.stride_bytes)[:2], [48, 8])
        self.assertEqual(ds.data, s.ctypes.data)
        r = a[::-1]
        self.assertEqual(qlow.describe(r).view.stride_bytes[0], -24)
        h = a.astype(np.float16)
        self.assertEqual(qlow.describe(h).view.dtype, qlow.QLOW_DTYPE_F16)
        d64 = qlow.describe(a.astype(np.float64))
        self.assertEqual(d64.view.dtype, qlow.QLOW_DTYPE_F32)
        with self.assertRaises(TypeError):
            qlow.describe(a.astype(np.float64), writable=True)


class TestLeaks(unittest.TestCase):
    def test_allocator_counters(self):
        alloc = qlow.CountingAllocator()
        for _ in range(50):
            with qlow.Ctx(allocator=alloc) as ctx, qlow.Params(allocator=alloc) as p:
                ctx.seed = 3
                p.reset()
                self.assertEqual(alloc.live, 2)
        self.assertEqual((alloc.live, alloc.bytes_live, alloc.errors), (0, 0, []))
        self.assertEqual(alloc.total, 100)

    def test_allocation_failure_raises_and_leaks_nothing(self):
        alloc = qlow.CountingAllocator(fail_at=1)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.Ctx(allocator=alloc)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NO_MEMORY)
        self.assertEqual(alloc.live, 0)

    def test_gc_destroys(self):
        alloc = qlow.CountingAllocator()
        ctx = qlow.Ctx(allocator=alloc)
        self.assertEqual(alloc.live, 1)
        del ctx
        gc.collect()
        self.assertEqual(alloc.live, 0)

    def test_tracemalloc_create_destroy(self):
        def cycle():
            alloc = qlow.CountingAllocator()
            for _ in range(20):
                with qlow.Ctx(allocator=alloc, threads=1), qlow.Params(allocator=alloc):
                    pass
                ctx = qlow.Ctx()
                ctx.close()
                try:
                    qlow.Ctx(allocator=qlow.CountingAllocator(fail_at=1))
                except qlow.QlowError:
                    pass
        grown = tracemalloc_growth(cycle, 10)
        info("tracemalloc growth over 10x20 create/destroy cycles: %d bytes", grown)
        self.assertLess(grown, 64 * 1024)


if __name__ == "__main__":
    unittest.main()
