"""The user journey through the wrapper, bit for bit against the same steps in C (tests/python/cref.c):
load weights, accumulate calibration activations, quantize with every scheme, Hessian and HVP
spectra (with Python callbacks), bit allocation, tokenizer, and a .qlow image."""
import array
import os
import struct
import unittest

import qlow
from helpers import HAVE_NUMPY, ROOT, Stream, f32_bytes, info, needs_numpy, run_cref

if HAVE_NUMPY:
    import numpy as np

# (scheme, bits, group_cols, symmetric, ternary packing)
CONFIGS = [
    ("Q8", qlow.QLOW_SCHEME_RTN, 8, 32, 0, 0), ("Q4", qlow.QLOW_SCHEME_RTN, 4, 32, 0, 0),
    ("Q4 sym rows", qlow.QLOW_SCHEME_RTN, 4, 0, 1, 0), ("Q3", qlow.QLOW_SCHEME_RTN, 3, 32, 0, 0),
    ("Q2", qlow.QLOW_SCHEME_RTN, 2, 64, 0, 0), ("B1", qlow.QLOW_SCHEME_BINARY, 0, 0, 0, 0),
    ("B2", qlow.QLOW_SCHEME_BINARY_RESIDUAL, 0, 0, 0, 0),
    ("T158", qlow.QLOW_SCHEME_TERNARY, 0, 0, 0, qlow.QLOW_FORMAT_T158),
    ("T2", qlow.QLOW_SCHEME_TERNARY, 0, 0, 0, qlow.QLOW_FORMAT_T2),
]
ROWS, COLS = 24, 80  # cols not a multiple of 32: rows carry padding


def options(scheme, bits, group, sym, packing):
    opts = {"scheme": scheme}
    if scheme == qlow.QLOW_SCHEME_RTN:
        opts.update(bits=bits, group_cols=group, symmetric=sym)
    if packing:
        opts["ternary_packing"] = packing
    return opts


def c_quantize(seed, cfg, importance):
    _, scheme, bits, group, sym, packing = cfg
    return run_cref("quantize", seed, ROWS, COLS, scheme, bits, group, sym, packing, int(importance))


class TestQuantize(unittest.TestCase):
    def check_config(self, cfg, make_input, importance=False, seed=11):
        raw = c_quantize(seed, cfg, importance)
        W = Stream(seed).floats(ROWS * COLS)
        imp = None
        if importance:
            imp = array.array("f", [abs(v) for v in Stream(seed + 1).floats(COLS)])
        qm = qlow.quantize(make_input(W), importance=imp, **options(*cfg[1:]))
        ser = bytes(qm.serialize())
        self.assertEqual(ser, raw[:len(ser)], cfg[0])
        self.assertEqual(f32_bytes(qm.dequantize()), raw[len(ser):], cfg[0])
        self.assertEqual(qm.shape, (ROWS, COLS))
        qm.close()
        return ser

    def test_every_scheme_matches_c(self):
        bits = []
        for cfg in CONFIGS:
            ser = self.check_config(cfg, lambda W: memoryview(W).cast("B").cast("f", [ROWS, COLS]))
            with qlow.QMatrix.wrap(ser) as qm:
                bits.append("%s %.3f" % (cfg[0], qm.bits_per_weight))
                self.assertEqual(qm.format_name, cfg[0].split()[0])
        info("bits/weight of a 24x80 matrix: %s", ", ".join(bits))

    def test_importance_and_list_input(self):
        for cfg in (CONFIGS[1], CONFIGS[5]):
            self.check_config(cfg, lambda W: [list(W[r * COLS:(r + 1) * COLS]) for r in range(ROWS)],
                              importance=True)

    @needs_numpy
    def test_numpy_strided_inputs_match_c(self):
        for cfg in (CONFIGS[1], CONFIGS[6]):
            self.check_config(cfg, lambda W: np.asarray(W, dtype=np.float32).reshape(ROWS, COLS))
            # Fortran-ordered copy: strides (4, 4*ROWS), described in place.
            self.check_config(cfg, lambda W: np.asfortranarray(np.asarray(W, dtype=np.float32).reshape(ROWS, COLS)))
            # Every other row of a taller array, and a float64 array (converted once).
            def tall(W):
                big = np.zeros((2 * ROWS, COLS), dtype=np.float32)
                big[::2] = np.asarray(W, dtype=np.float32).reshape(ROWS, COLS)
                return big[::2]
            self.check_config(cfg, tall)
            self.check_config(cfg, lambda W: np.asarray(W, dtype=np.float64).reshape(ROWS, COLS))

    def test_to_buffer_equals_quantize(self):
        W = Stream(3).floats(ROWS * COLS)
        mv = memoryview(W).cast("B").cast("f", [ROWS, COLS])
        for cfg in CONFIGS:
            a = qlow.quantize(mv, **options(*cfg[1:]))
            b = qlow.quantize_serialized(mv, **options(*cfg[1:]))
            self.assertEqual(bytes(a.serialize()), bytes(b), cfg[0])
            static = qlow.QMatrix.wrap(b, static=True)
            self.assertEqual(f32_bytes(static.dequantize()), f32_bytes(a.dequantize()))
            a.close(), static.close()

    def test_params_object_and_bounds(self):
        with qlow.Params({qlow.QLOW_P_BITS: 3, qlow.QLOW_P_GROUP_COLS: 32}) as p:
            qm = qlow.quantize([[0.5] * 32, [-0.25] * 32], params=p)
            self.assertEqual(qm.format, qlow.QLOW_FORMAT_Q3)
        self.assertEqual(qlow.format_name(qlow.QLOW_FORMAT_M161), "M161")
        self.assertAlmostEqual(qlow.format_bits_per_weight(qlow.QLOW_FORMAT_Q4, 64, 64, 32), 5.0)

    def test_errors(self):
        bad = [[1.0, float("nan")] * 16]
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.quantize(bad)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NONFINITE)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.quantize([[1.0] * 32], bits=5)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_UNSUPPORTED)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.quantize([[1.0] * 32], bits=99)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_PARAM)
        with self.assertRaises(TypeError):
            qlow.quantize([[1.0] * 32], no_such_option=1)
        with self.assertRaises(ValueError):
            qlow.quantize([[1.0] * 32], importance=[1.0] * 31)
        ser = bytearray(qlow.quantize([[1.0, 2.0] * 16] * 4).serialize())
        ser[len(ser) // 2] ^= 0x40
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.QMatrix.wrap(ser)
        self.assertIn(cm.exception.code, (qlow.QLOW_E_CHECKSUM, qlow.QLOW_E_FORMAT))
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.QMatrix.wrap(bytes(ser[:100]))
        self.assertIn(cm.exception.code, (qlow.QLOW_E_TRUNCATED, qlow.QLOW_E_FORMAT))


GEMM_CONFIGS = [c for c in CONFIGS if c[0] != "Q4 sym rows"]


class TestKernels(unittest.TestCase):
    R, C, BATCH = 40, 96, 5

    def expected(self, threads=1):
        raw = run_cref("gemm", 31, self.R, self.C, self.BATCH, threads)
        step = 4 * self.R * (1 + 2 * self.BATCH)
        self.assertEqual(len(raw), step * len(GEMM_CONFIGS))
        return [raw[i * step:(i + 1) * step] for i in range(len(GEMM_CONFIGS))]

    def run_all(self, make_x, **kw):
        W = memoryview(Stream(31).floats(self.R * self.C)).cast("B").cast("f", [self.R, self.C])
        X = Stream(34).floats(self.BATCH * self.C)
        got = []
        for cfg in GEMM_CONFIGS:
            opts = options(*cfg[1:])
            if cfg[1] == qlow.QLOW_SCHEME_RTN:
                opts.pop("symmetric")
            with qlow.quantize(W, **opts) as qm:
                y = qm.gemv(make_x(X[:self.C], 1), **kw)
                Y = qm.gemm(make_x(X, self.BATCH), **kw)
                Y8 = qm.gemm(make_x(X, self.BATCH), act8=True, **kw)
                got.append(f32_bytes(y) + f32_bytes(Y) + f32_bytes(Y8))
        return got

    def test_every_format_matches_c(self):
        want = self.expected()
        flat = lambda X, b: X if b == 1 else memoryview(X).cast("B").cast("f", [b, self.C])
        for label, kw in (("allocating", {}), ("workspace", {"workspace": True})):
            got = self.run_all(flat, **kw)
            for cfg, g, w in zip(GEMM_CONFIGS, got, want):
                self.assertEqual(g, w, "%s %s" % (cfg[0], label))
        with qlow.Ctx(threads=2) as ctx:
            got = self.run_all(flat, ctx=ctx)
        self.assertEqual(got, self.expected(threads=2))
        self.assertEqual(got, want, "results identical for any thread count")

    def test_accuracy_against_dequantized(self):
        W = memoryview(Stream(31).floats(self.R * self.C)).cast("B").cast("f", [self.R, self.C])
        x = Stream(34).floats(self.C)
        worst = []
        for cfg in GEMM_CONFIGS:
            opts = options(*cfg[1:])
            with qlow.quantize(W, **opts) as qm:
                y = memoryview(bytearray(f32_bytes(qm.gemv(x)))).cast("f")
                dq = memoryview(bytearray(f32_bytes(qm.dequantize()))).cast("f")
                ref = [sum(float(dq[r * self.C + c]) * x[c] for c in range(self.C)) for r in range(self.R)]
                scale = max(abs(v) for v in ref) or 1.0
                err = max(abs(y[r] - ref[r]) for r in range(self.R)) / scale
                worst.append("%s %.2e" % (cfg[0], err))
                self.assertLess(err, 0.05, cfg[0])
        info("packed GEMV vs dequantized W x (max rel. error, 8-bit block activations): %s", ", ".join(worst))

    @needs_numpy
    def test_numpy(self):
        want = self.expected()
        got = self.run_all(lambda X, b: np.asarray(X, dtype=np.float32).reshape((b, self.C) if b > 1 else (self.C,)))
        self.assertEqual(got, want)
        with qlow.quantize(np.ones((8, 64), dtype=np.float32), bits=4, group_cols=32) as qm:
            y = qm.gemv(np.ones(64, dtype=np.float64))
            self.assertIsInstance(y, np.ndarray)
            out = np.zeros(8, dtype=np.float32)
            self.assertIs(qm.gemv(np.ones(64, dtype=np.float32), out=out), out)
            self.assertTrue(np.allclose(out, 64.0, rtol=0.02))

    def test_errors(self):
        with qlow.quantize([[1.0] * 64] * 4, bits=4, group_cols=32) as qm:
            with self.assertRaises(ValueError):
                qm.gemv([1.0] * 63)
            with self.assertRaises(qlow.QlowError) as cm:
                qm.gemv([float("nan")] * 64)
            self.assertEqual(cm.exception.code, qlow.QLOW_E_NONFINITE)
            with self.assertRaises(qlow.QlowError) as cm:
                qm.gemv([1.0] * 64, ctx=qlow.Ctx.static())
            self.assertEqual(cm.exception.code, qlow.QLOW_E_NO_MEMORY)
            self.assertEqual(len(qm.gemv([1.0] * 64, ctx=qlow.Ctx.static(), workspace=True)), 4)


class TestGptq(unittest.TestCase):
    def test_matches_c(self):
        rows, cols, tokens = 16, 64, 96
        results = []
        for act_order in (0, 1):
            raw = run_cref("gptq", 21, rows, cols, tokens, 3, 32, act_order)
            W = memoryview(Stream(21).floats(rows * cols)).cast("B").cast("f", [rows, cols])
            X = memoryview(Stream(23).floats(tokens * cols)).cast("B").cast("f", [tokens, cols])
            with qlow.Hessian(cols) as h:
                h.add(X)
                for ws in (False, True):
                    qm = qlow.gptq_quantize(W, h, bits=3, group_cols=32, act_order=act_order, workspace=ws)
                    ser = bytes(qm.serialize())
                    self.assertEqual(ser, raw[:len(ser)], "act_order %d workspace %d" % (act_order, ws))
                    self.assertEqual(f32_bytes(qm.dequantize()), raw[len(ser):])
                    qm.close()
                # GPTQ minimizes the output error on the calibration inputs: compare with RTN.
                g = qlow.gptq_quantize(W, h, bits=3, group_cols=32, act_order=act_order)
                r = qlow.quantize(W, bits=3, group_cols=32)
                fake, loss = qlow.gptq_fake_quantize(W, h, bits=3, group_cols=32, act_order=act_order)
                self.assertEqual(f32_bytes(fake), f32_bytes(g.dequantize()), "fake quantization = packed")
                fake_ws, loss_ws = qlow.gptq_fake_quantize(W, h, bits=3, group_cols=32, act_order=act_order,
                                                           workspace=True)
                self.assertEqual((f32_bytes(fake_ws), loss_ws), (f32_bytes(fake), loss))
                self.assertGreater(loss, 0.0)
                self.assertEqual(qlow.plan.layer_error(h, W, fake, workspace=True),
                                 qlow.plan.layer_error(h, W, fake))
                eg = qlow.plan.layer_error(h, W, g.dequantize())
                er = qlow.plan.layer_error(h, W, r.dequantize())
                results.append("act_order=%d: gptq %.5f vs rtn %.5f" % (act_order, eg, er))
                self.assertLess(eg, er)
        info("GPTQ 3-bit layer error tr(dW H dW^T), 16x64 on 96 tokens: %s", "; ".join(results))
        with qlow.Hessian(cols, mode="diag") as hd:
            hd.add(X)
            with self.assertRaises(qlow.QlowError) as cm:
                qlow.gptq_quantize(W, hd, bits=3)
            self.assertEqual(cm.exception.code, qlow.QLOW_E_STATE)


class TestPtq161(unittest.TestCase):
    def test_matches_c(self):
        rows, cols, tokens = 24, 96, 64
        raw = run_cref("ptq161", 41, rows, cols, tokens)
        W = memoryview(Stream(41).floats(rows * cols)).cast("B").cast("f", [rows, cols])
        Xflat = Stream(46).floats(tokens * cols)
        X = memoryview(Xflat).cast("B").cast("f", [tokens, cols])
        qm, fold = qlow.ptq161.quantize(W, X)
        ser = bytes(qm.serialize())
        dq = f32_bytes(qm.dequantize())
        self.assertEqual(qm.format, qlow.QLOW_FORMAT_M161)
        self.assertEqual(ser + dq + f32_bytes(qm.gemv(Xflat[:cols])), raw)
        self.assertEqual(fold, [1.0] * cols)
        what, mask, _ = qlow.ptq161.quantize_f32(W, X)
        self.assertEqual(f32_bytes(what), dq, "the packed matrix holds exactly W_hat")
        stats = qlow.ptq161.ActStats(cols)
        stats.update(X)
        smask, n_sal = stats.mask()
        self.assertEqual(bytes(smask), bytes(mask))
        perm, n2 = qlow.ptq161.mask_permutation(mask, cols)
        self.assertEqual((sorted(perm), n2), (list(range(cols)), n_sal))
        b = qlow.ptq161.bits(rows, cols, n_sal)
        self.assertAlmostEqual(b[qlow.QLOW_BITS_STORED_TOTAL], qm.bits_per_weight, places=9)
        info("PTQ1.61 24x96 (%d salient columns): %.3f bits/weight stored, paper accounting %.3f",
             n_sal, qm.bits_per_weight, b[qlow.QLOW_BITS_PAPER_TOTAL])
        stats.close(), qm.close()

    def test_scale_optimizer_loop(self):
        rows, cols, tokens = 8, 64, 32
        W = memoryview(Stream(51).floats(rows * cols)).cast("B").cast("f", [rows, cols])
        X = memoryview(Stream(52).floats(tokens * cols)).cast("B").cast("f", [tokens, cols])
        mask, _ = qlow.ptq161.mask_select([abs(v) for v in Stream(53).floats(cols)], 0.25)
        with qlow.ptq161.ScaleOpt() as opt:
            lid = opt.add_linear(W, mask)
            for _ in range(3):
                What = memoryview(bytearray(f32_bytes(opt.weight(lid)))).cast("f")
                # d/dW_hat of 0.5 ||W_hat - W||^2: the engine's gradient in this toy loop.
                grad = [[What[r * cols + c] - W[r, c] for c in range(cols)] for r in range(rows)]
                opt.grad(lid, grad)
                opt.step()
            alpha, r1, mu, r2 = opt.scales(lid)
            self.assertEqual((len(alpha), len(r2)), (rows, cols))
            with opt.quantize(lid) as qm:
                self.assertEqual(qm.format, qlow.QLOW_FORMAT_M161)
                # The packed scales are fp16: the stored matrix is the optimizer's weights to fp16 accuracy.
                a = memoryview(bytearray(f32_bytes(qm.dequantize()))).cast("f")
                b = memoryview(bytearray(f32_bytes(opt.weight(lid)))).cast("f")
                worst = max(abs(a[i] - b[i]) / (abs(b[i]) + 1e-3) for i in range(rows * cols))
                self.assertLess(worst, 4e-3)


class TestHessian(unittest.TestCase):
    TOKENS, HCOLS, SPLIT = 50, 24, 30

    def parse_c(self, raw):
        n = self.HCOLS
        out, pos = {}, 0
        for key, size in (("diag", 4 * n), ("mean", 4 * n), ("trace", 8), ("matrix", 8 * n * n),
                          ("chol", 8 * n * n), ("lam", 8), ("iters", 4), ("eigs", 24)):
            out[key] = raw[pos:pos + size]
            pos += size
        out["saved"] = raw[pos:]
        return out

    def run_python(self, make_batch, h):
        X = Stream(3).floats(self.TOKENS * self.HCOLS)
        n, s = self.HCOLS, self.SPLIT
        h.add(make_batch(X[:s * n], s))
        h.add(make_batch(X[s * n:], self.TOKENS - s))
        return {
            "diag": f32_bytes(h.diag()), "mean": f32_bytes(h.col_mean()), "trace": struct.pack("<d", h.trace()),
            "matrix": bytes(memoryview(h.matrix(0.01)).cast("B")) if not HAVE_NUMPY or not h.numpy
            else h.matrix(0.01).tobytes(),
            "chol": bytes(memoryview(h.cholesky("hinv", 0.01)).cast("B")) if not h.numpy
            else h.cholesky("hinv", 0.01).tobytes(),
            "lam": struct.pack("<d", h.top_eigen(1e-6, 500)[0]), "iters": struct.pack("<i", h.top_eigen(1e-6, 500)[1]),
            "eigs": struct.pack("<3d", *h.lanczos(3, 9)), "saved": bytes(h.save()),
        }

    def test_matches_c(self):
        want = self.parse_c(run_cref("hessian", 3, self.TOKENS, self.HCOLS, self.SPLIT))
        with qlow.Hessian(self.HCOLS) as h:
            got = self.run_python(lambda flat, t: memoryview(flat).cast("B").cast("f", [t, self.HCOLS]), h)
            self.assertEqual(h.tokens, self.TOKENS)
        for key in want:
            self.assertEqual(got[key], want[key], key)
        lam = struct.unpack("<d", want["lam"])[0]
        info("hessian 50x24: trace %.6f, top eigenvalue %.6f", struct.unpack("<d", want["trace"])[0], lam)
        # Reloaded and static accumulators give the same answers.
        with qlow.Hessian.load(want["saved"]) as h2:
            self.assertEqual(f32_bytes(h2.diag()), want["diag"])
        hs = qlow.Hessian.static(self.HCOLS)
        got = self.run_python(lambda flat, t: [list(flat[i * self.HCOLS:(i + 1) * self.HCOLS]) for i in range(t)], hs)
        self.assertEqual(got["chol"], want["chol"])
        chol_ws = hs.cholesky("hinv", 0.01, workspace=True)
        self.assertEqual(bytes(memoryview(chol_ws).cast("B")), want["chol"])
        self.assertEqual(struct.pack("<di", *hs.top_eigen(1e-6, 500, workspace=True)), want["lam"] + want["iters"])
        self.assertEqual(struct.pack("<3d", *hs.lanczos(3, 9, workspace=True)), want["eigs"])

    @needs_numpy
    def test_numpy_batches(self):
        want = self.parse_c(run_cref("hessian", 3, self.TOKENS, self.HCOLS, self.SPLIT))
        with qlow.Hessian(self.HCOLS) as h:
            got = self.run_python(lambda flat, t: np.asarray(flat, dtype=np.float32).reshape(t, self.HCOLS).T.copy().T, h)
        for key in want:
            self.assertEqual(got[key], want[key], key)

    def test_errors(self):
        with qlow.Hessian(8) as h:
            with self.assertRaises(qlow.QlowError) as cm:
                h.diag()
            self.assertEqual(cm.exception.code, qlow.QLOW_E_STATE)
            with self.assertRaises(qlow.QlowError) as cm:
                h.add([[1.0] * 7])
            self.assertEqual(cm.exception.code, qlow.QLOW_E_SHAPE)
            with self.assertRaises(qlow.QlowError) as cm:
                h.add([[1.0] * 7 + [float("inf")]])
            self.assertEqual(cm.exception.code, qlow.QLOW_E_NONFINITE)
        with self.assertRaises(qlow.QlowError):
            qlow.Hessian.load(b"not a hessian at all, not even close")


class TestHvp(unittest.TestCase):
    N = 40

    def setUp(self):
        self.d = array.array("f", [v + 1.5 for v in Stream(9).floats(self.N)])
        self.want = run_cref("hvp", 9, self.N)

    def pack(self, top, eigs, trace):
        return (struct.pack("<di", *top) + struct.pack("<3d", *eigs) + struct.pack("<ddi", *trace))

    def check(self, hvp, numpy=False, workspace=False, fd=None):
        n = self.N
        src = fd if fd is not None else hvp
        got = self.pack(qlow.hvp_top_eigen(src, n, 1e-6, 200, numpy=numpy, workspace=workspace),
                        qlow.hvp_lanczos(src, n, 3, 12, numpy=numpy, workspace=workspace),
                        qlow.hvp_trace(src, n, 30, 0.0, numpy=numpy, workspace=workspace))
        half = len(self.want) // 2
        self.assertEqual(got, self.want[half:] if fd is not None else self.want[:half])

    def test_python_callback_matches_c(self):
        d = self.d

        def hvp(vin, vout):
            for i in range(len(vin)):
                vout[i] = d[i] * vin[i]
        self.check(hvp)
        self.check(hvp, workspace=True)
        self.check(lambda vin, vout: [d[i] * vin[i] for i in range(len(vin))])
        lam = struct.unpack("<d", self.want[:8])[0]
        info("HVP power iteration on diag(d): %.7f (max d = %.7f)", lam, max(d))

    @needs_numpy
    def test_numpy_callback_matches_c(self):
        d = np.asarray(self.d, dtype=np.float32)

        def hvp(vin, vout):
            self.assertIsInstance(vin, np.ndarray)
            vout[:] = d * vin
        self.check(hvp, numpy=True)

    def test_finite_difference_hvp_matches_c(self):
        d = self.d
        theta = Stream(16).floats(self.N)

        def grad(th, g):
            for i in range(len(th)):
                g[i] = d[i] * th[i]
        with qlow.FdHvp(grad, theta) as fd:
            self.check(None, fd=fd)
            hv = fd.apply([1.0] * self.N)
            self.assertLess(max(abs(hv[i] - d[i]) for i in range(self.N)), 1e-2)

    def test_callback_exception_propagates(self):
        class Boom(Exception):
            pass

        def hvp(vin, vout):
            raise Boom("from the callback")
        with self.assertRaises(Boom) as cm:
            qlow.hvp_top_eigen(hvp, 8)
        self.assertIsInstance(cm.exception.__cause__, qlow.QlowError)
        self.assertEqual(cm.exception.__cause__.code, qlow.QLOW_E_CALLBACK)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.hvp_top_eigen(lambda vin, vout: [float("nan")] * len(vin), 8)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NONFINITE)

    def test_callback_kept_alive(self):
        import gc
        d = self.d

        def grad(th, g):
            for i in range(len(th)):
                g[i] = d[i] * th[i]
        fd = qlow.FdHvp(grad, list(Stream(16).floats(self.N)))
        del grad
        gc.collect()  # the FdHvp owns the ctypes callback and theta: C may still call them
        self.check(None, fd=fd)
        fd.close()


class TestPlan(unittest.TestCase):
    def test_matches_c(self):
        L, K = 12, 4
        raw = run_cref("plan", 4, L, K)
        sz = [abs(v) for v in Stream(4).floats(L * K)]
        co = [abs(v) for v in Stream(5).floats(L * K)]
        size = [[1.0 + k + sz[l * K + k] for k in range(K)] for l in range(L)]
        cost = [[co[l * K + k] * (K - k) for k in range(K)] for l in range(L)]
        budget = sum(max(r) for r in size) * 0.6
        choice, tc, ts = qlow.plan.solve(size, cost, budget)
        flat = [c for r in cost for c in r]
        got = (struct.pack("<%di" % L, *choice) + struct.pack("<dd", tc, ts)
               + struct.pack("<%di" % L, *qlow.plan.qbert_rule(flat[:L], 0.25, 2, 4))
               + struct.pack("<d", qlow.plan.qbert_omega(flat[:5])))
        self.assertEqual(got, raw)
        self.assertEqual(qlow.plan.solve(size, cost, budget, workspace=True)[0], choice)
        self.assertLessEqual(ts, budget)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.plan.solve(size, cost, 1.0)
        self.assertEqual(cm.exception.code, qlow.QLOW_E_NOT_FOUND)

    def test_error_metrics(self):
        W = [[0.5, -0.25] * 16] * 4
        qm = qlow.quantize(W, bits=2, group_cols=32)
        flat = memoryview(bytearray(f32_bytes(qm.dequantize()))).cast("f")
        Wq = [list(flat[r * 32:(r + 1) * 32]) for r in range(4)]
        ref = sum((Wq[r][c] - W[r][c]) ** 2 for r in range(4) for c in range(32))
        self.assertAlmostEqual(qlow.plan.diag_weighted([1.0] * 32, W, Wq), ref, places=6)
        self.assertAlmostEqual(qlow.plan.hawq_v2(2.0, 128, W, Wq), 2.0 / 128 * ref, places=6)
        with qlow.Hessian(32) as h:
            h.add([[1.0] * 32])
            err = qlow.plan.layer_error(h, W, Wq)
        # H = 2 x x^T with x = ones: tr(dW H dW^T) = 2 * sum_r (sum_c dW_rc)^2.
        want = 2 * sum(sum(Wq[r][c] - W[r][c] for c in range(32)) ** 2 for r in range(4))
        self.assertAlmostEqual(err, want, places=5)


class TestModelFiles(unittest.TestCase):
    def test_model_config_and_tensors(self):
        with qlow.Model(os.path.join(ROOT, "data", "stories260K.bin")) as m:
            cfg = m.config
            self.assertEqual((cfg["dim"], cfg["hidden_dim"], cfg["n_layers"], cfg["vocab_size"]), (64, 172, 5, 512))
            self.assertIn("layers.0.attention.wq", m.names())
            name, dtype, shape = m.info("layers.4.feed_forward.w2")
            self.assertEqual((dtype, shape), (qlow.QLOW_DTYPE_F32, (64, 172)))
            W = m.read("layers.0.attention.wq")
            V = m.view("layers.0.attention.wq")
            self.assertEqual(f32_bytes(W), bytes(memoryview(V).cast("B")) if not hasattr(V, "tobytes") else V.tobytes())
            with open(os.path.join(ROOT, "data", "stories260K.bin"), "rb") as f:
                raw = f.read()
            import hashlib
            self.assertEqual(m.sha256(), hashlib.sha256(raw).digest())
            with qlow.Model(data=raw) as m2:
                self.assertEqual(f32_bytes(m2.read("norm")), f32_bytes(m.read("norm")))
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.Model("/nonexistent/model.bin")
        self.assertEqual(cm.exception.code, qlow.QLOW_E_IO)
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.Model(data=raw[:1000])
        self.assertEqual(cm.exception.code, qlow.QLOW_E_TRUNCATED)

    def test_tokenizer_matches_c(self):
        nbytes = 300
        want = run_cref("tokens", nbytes)
        with open(os.path.join(ROOT, "data", "tinystories_validation_head.txt"), "rb") as f:
            text = f.read(nbytes)
        with qlow.Tokenizer(os.path.join(ROOT, "data", "tok512.bin")) as tok:
            ids = tok.encode(text)
            self.assertEqual(struct.pack("<%di" % len(ids), *ids), want)
            self.assertEqual(tok.encode(text, workspace=True), ids)
            self.assertEqual(tok.decode_bytes(ids), text)
            self.assertEqual(tok.vocab_size, 512)
            self.assertEqual(tok.lookup(tok.token(300)[0]), 300)
        info("tokenizer: %d bytes of TinyStories -> %d tokens", nbytes, len(ids))

    def journey(self, numpy):
        calib = 128
        m = qlow.Model(os.path.join(ROOT, "data", "stories260K.bin"), numpy=numpy)
        W = m.read("layers.0.attention.wq")
        E = m.view("tok_embeddings")
        X = E[:calib] if numpy else memoryview(E).cast("B")[:calib * 64 * 4].cast("f", [calib, 64])
        h = qlow.Hessian(64, mode="diag")
        h.add(X)
        qm = qlow.quantize(W, bits=4, group_cols=32, importance=h.diag())
        w = qlow.QFileWriter(capacity=1 << 20)
        self.write_file(w, m, qm, w.add_qmatrix)
        data = w.getvalue()
        w.close()
        return m, qm, data

    @staticmethod
    def write_file(w, m, qm, add):
        add("layers.0.attention.wq", qm)
        w.add_dense("norm", m.read("norm"))
        w.set_meta("general.name", "stories260K")
        w.set_meta("quant.bits", 4)
        w.set_meta("quant.damp", 0.01)
        w.set_model(m)
        w.finish()

    def check_journey(self, numpy):
        want = run_cref("journey", 128)
        m, qm, data = self.journey(numpy)
        ser = bytes(qm.serialize())
        self.assertEqual(ser, want[:len(ser)])
        self.assertEqual(data, want[len(ser):])
        with qlow.QFile(data=data, numpy=numpy) as f:
            self.assertEqual(f.names(), ["layers.0.attention.wq", "norm"])
            info_wq = f.info("layers.0.attention.wq")
            self.assertEqual((info_wq["kind"], info_wq["type"], info_wq["shape"]),
                             (qlow.QLOW_QFILE_PACKED, qlow.QLOW_FORMAT_Q4, (64, 64)))
            meta = f.metadata()
            self.assertEqual((meta["general.name"], meta["quant.bits"], meta["quant.damp"]), ("stories260K", 4, 0.01))
            self.assertEqual(meta["model.dim"], 64)
            self.assertEqual(f32_bytes(f.dense("norm")), f32_bytes(m.read("norm")))
            q2 = f.packed("layers.0.attention.wq")
            q3 = f.packed_wrapped("layers.0.attention.wq")
            self.assertEqual(f32_bytes(q3.dequantize()), f32_bytes(qm.dequantize()))
        self.assertTrue(q2.closed, "closing the file closes the matrices borrowing it")
        f2 = qlow.QFile(data=data)
        q4 = f2.packed("layers.0.attention.wq")
        del f2  # q4 keeps the file open
        self.assertEqual(f32_bytes(q4.dequantize()), f32_bytes(qm.dequantize()))
        q4.close(), qm.close(), m.close()
        return len(data)

    def test_journey_matches_c(self):
        n = self.check_journey(False)
        info("journey: stories260K layer0 wq -> Q4/g32 with imatrix from 128 tokens -> .qlow of %d bytes", n)

    @needs_numpy
    def test_journey_numpy_matches_c(self):
        self.check_journey(True)

    def test_qlow_file_on_disk_and_callback(self):
        import tempfile
        m, qm, data = self.journey(False)
        chunks = []
        w = qlow.QFileWriter(callback=chunks.append)
        self.write_file(w, m, qm, w.add_packed)
        w.close()
        self.assertEqual(b"".join(chunks), data)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "m.qlow")
            w = qlow.QFileWriter(path)
            w.add_packed("wq", qm)
            w.finish()
            w.close()
            with qlow.QFile(path) as f:
                self.assertEqual(f32_bytes(f.packed("wq").dequantize()), f32_bytes(qm.dequantize()))
            # A writer closed before finish removes its partial file.
            w = qlow.QFileWriter(os.path.join(d, "partial.qlow"))
            w.add_packed("wq", qm)
            w.close()
            self.assertFalse(os.path.exists(os.path.join(d, "partial.qlow")))

        def failing(chunk):
            raise OSError("disk full")
        with self.assertRaises(OSError):
            qlow.QFileWriter(callback=failing)
        bad = bytearray(data)
        bad[200] ^= 1
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.QFile(data=bytes(bad))
        self.assertIn(cm.exception.code, (qlow.QLOW_E_CHECKSUM, qlow.QLOW_E_FORMAT))
        with self.assertRaises(qlow.QlowError) as cm:
            qlow.QFile(data=data[:-10])
        self.assertIn(cm.exception.code, (qlow.QLOW_E_TRUNCATED, qlow.QLOW_E_FORMAT))
        qm.close(), m.close()


if __name__ == "__main__":
    unittest.main()
