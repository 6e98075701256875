"""Curvature: the calibration Hessian accumulator (qlow_hessian) and Hessian-vector-product callbacks
(qlow_hvp_*, qlow_fd_hvp) for Q-BERT's full-model eigenvalues and traces."""
import ctypes

from . import _buffers as B
from . import constants as C
from ._handle import Handle
from ._lib import GRAD_FN, HVP_FN, lib
from .core import allocator_arg
from .quant import aligned_buffer, ctx_handle

MODES = {"full": C.QLOW_HESSIAN_FULL, "diag": C.QLOW_HESSIAN_DIAG}
FACTORS = {"h": C.QLOW_HESSIAN_FACTOR_H, "hinv": C.QLOW_HESSIAN_FACTOR_HINV}


def _mode(mode):
    return MODES[mode] if isinstance(mode, str) else int(mode)


class Hessian(Handle):
    """Streaming accumulator of H = 2/N sum x x^T over calibration activations X [tokens x cols]."""

    _destroy = "qlow_hessian_destroy"

    def __init__(self, cols, mode="full", allocator=None, _ptr=None, _keep=()):
        if _ptr is None:
            aptr, keep = allocator_arg(allocator)
            _ptr = ctypes.c_void_p()
            lib.qlow_hessian_create(aptr, cols, _mode(mode), ctypes.byref(_ptr))
            _keep = [keep]
        super().__init__(_ptr, _keep)
        self.numpy = False

    @classmethod
    def static(cls, cols, mode="full"):
        """An accumulator placed in Python-owned memory (qlow_hessian_init_static): no allocator."""
        need = ctypes.c_size_t()
        lib.qlow_hessian_estimate_size(cols, _mode(mode), ctypes.byref(need))
        mem, addr = aligned_buffer(need.value)
        out = ctypes.c_void_p()
        lib.qlow_hessian_init_static(addr, need.value, cols, _mode(mode), ctypes.byref(out))
        return cls(cols, _ptr=out, _keep=[mem])

    @classmethod
    def load(cls, data, allocator=None):
        aptr, keep = allocator_arg(allocator)
        addr, dkeep = B.byte_pointer(data)
        out = ctypes.c_void_p()
        lib.qlow_hessian_load(aptr, addr, len(memoryview(data).cast("B")) if not B.is_ndarray(data)
                              else data.nbytes, ctypes.byref(out))
        h = cls(0, _ptr=out, _keep=[keep])
        return h

    def info(self):
        """(cols, mode, tokens)."""
        c, m, t = ctypes.c_int64(), ctypes.c_int32(), ctypes.c_int64()
        lib.qlow_hessian_info(self.handle, ctypes.byref(c), ctypes.byref(m), ctypes.byref(t))
        return c.value, m.value, t.value

    @property
    def cols(self):
        return self.info()[0]

    @property
    def tokens(self):
        return self.info()[2]

    def add(self, X, ctx=None):
        """Accumulate activations X [tokens x cols] (any float buffer; numpy f32/f16 in place)."""
        d = B.describe(X, ndim=2)
        self.numpy = self.numpy or d.numpy
        lib.qlow_hessian_add(ctx_handle(ctx), self.handle, d.ptr)

    def merge(self, other):
        lib.qlow_hessian_merge(self.handle, other.handle)

    def reset(self):
        lib.qlow_hessian_reset(self.handle)

    def _vector(self, fn):
        cols = self.cols
        out = B.new_float((cols,), self.numpy)
        addr, keep, _, _ = B.float_array(out, cols, writable=True)
        fn(self.handle, addr, cols)
        return out

    def diag(self):
        """H_jj = 2/N sum x_j^2: the importance vector to pass to quantize()."""
        return self._vector(lib.qlow_hessian_diag)

    def col_mean(self):
        return self._vector(lib.qlow_hessian_col_mean)

    def trace(self):
        v = ctypes.c_double()
        lib.qlow_hessian_trace(self.handle, ctypes.byref(v))
        return v.value

    def _doubles(self, n):
        if self.numpy and B.have_numpy():
            a = B._np.zeros(n, dtype=B._np.float64)
            return a, ctypes.c_void_p(a.ctypes.data)
        import array
        a = array.array("d", bytes(8 * n))
        return a, ctypes.c_void_p(a.buffer_info()[0])

    def _square(self, a):
        cols = self.cols
        if B.is_ndarray(a):
            return a.reshape(cols, cols)
        return memoryview(a).cast("B").cast("d", [cols, cols])

    def matrix(self, damp=0.0):
        """The dense damped H + damp*mean(diag)*I (double precision, cols x cols)."""
        cols = self.cols
        a, addr = self._doubles(cols * cols)
        lib.qlow_hessian_matrix(self.handle, damp, addr, cols * cols)
        return self._square(a)

    def cholesky(self, which="hinv", damp=0.01, ctx=None, workspace=False):
        """Upper Cholesky factor of the damped H ("h") or of its inverse ("hinv"). `workspace=True`
        uses the caller-workspace variant (Python-owned memory)."""
        cols = self.cols
        a, addr = self._doubles(cols * cols)
        w = FACTORS[which] if isinstance(which, str) else which
        if workspace:
            n = ctypes.c_size_t()
            lib.qlow_hessian_cholesky_workspace_size(cols, ctypes.byref(n))
            mem, maddr = aligned_buffer(n.value)
            lib.qlow_hessian_cholesky_ws(ctx_handle(ctx), self.handle, w, damp, addr, cols * cols, maddr, n.value)
        else:
            lib.qlow_hessian_cholesky(ctx_handle(ctx), self.handle, w, damp, addr, cols * cols)
        return self._square(a)

    def _spectral_workspace(self, steps, workspace):
        if not workspace:
            return None, None, 0
        need = ctypes.c_size_t()
        lib.qlow_spectral_workspace_size(self.cols, steps, ctypes.byref(need))
        mem, addr = aligned_buffer(need.value)
        return mem, addr, need.value

    def top_eigen(self, tol=1e-6, max_iter=1000, ctx=None, workspace=False):
        """(lambda_max, iterations) by power iteration."""
        lam, it = ctypes.c_double(), ctypes.c_int32()
        mem, addr, size = self._spectral_workspace(0, workspace)
        lib.qlow_hessian_top_eigen(ctx_handle(ctx), self.handle, tol, max_iter, addr, size, ctypes.byref(lam),
                                   ctypes.byref(it))
        return lam.value, it.value

    def lanczos(self, k, steps=None, ctx=None, workspace=False):
        """The k largest eigenvalues (descending) from `steps` Lanczos steps."""
        steps = steps if steps is not None else max(3 * k, k)
        a, eaddr = self._doubles(k)
        mem, addr, size = self._spectral_workspace(steps, workspace)
        lib.qlow_hessian_lanczos(ctx_handle(ctx), self.handle, steps, k, addr, size, eaddr)
        return list(a)

    def save(self):
        n = ctypes.c_size_t()
        lib.qlow_hessian_save_size(self.handle, ctypes.byref(n))
        buf = bytearray(n.value)
        addr, keep = B.byte_pointer(buf)
        written = ctypes.c_size_t()
        lib.qlow_hessian_save(self.handle, addr, n.value, ctypes.byref(written))
        return buf[:written.value]


class _Callback:
    """Adapts a Python function to a qlow_hvp_fn / qlow_grad_fn. The function gets (v_in, v_out) as
    float32 arrays of n (numpy when `numpy`, else memoryviews) and fills v_out, or returns a sequence
    that is copied into it. An exception makes the callback report failure; it is re-raised after the C
    call (chained to the QlowError(QLOW_E_CALLBACK))."""

    def __init__(self, fn, numpy):
        self.fn = fn
        self.numpy = numpy and B.have_numpy()
        self.error = None
        self.calls = 0
        self.c_fn = HVP_FN(self._call)

    def _arrays(self, a_in, a_out, n):
        if self.numpy:
            np = B._np
            vin = np.ctypeslib.as_array((ctypes.c_float * n).from_address(a_in)) if n else np.zeros(0, np.float32)
            vout = np.ctypeslib.as_array((ctypes.c_float * n).from_address(a_out)) if n else np.zeros(0, np.float32)
            vin.flags.writeable = False
            return vin, vout
        vin = memoryview((ctypes.c_float * n).from_address(a_in)).cast("B").cast("f")
        vout = memoryview((ctypes.c_float * n).from_address(a_out)).cast("B").cast("f")
        return vin.toreadonly(), vout

    def _call(self, user, a_in, a_out, n):
        self.calls += 1
        try:
            vin, vout = self._arrays(a_in, a_out, n)
            result = self.fn(vin, vout)
            if result is not None:
                if len(result) != n:
                    raise ValueError("callback returned %d values, expected %d" % (len(result), n))
                for i, v in enumerate(result):
                    vout[i] = v
            return 0
        except BaseException as exc:  # noqa: B902 - reported through the C status
            self.error = exc
            return 1

    def reraise(self, exc):
        if self.error is not None:
            raise self.error from exc
        raise exc


def _spectral(call, fn, n, numpy, workspace, steps=0):
    cb = fn if isinstance(fn, FdHvp) else _Callback(fn, numpy)
    c_fn, user = (cb.c_fn, None) if isinstance(cb, _Callback) else (cb.apply_fn, cb.handle)
    mem, addr, size = None, None, 0
    if workspace:
        need = ctypes.c_size_t()
        lib.qlow_spectral_workspace_size(n, steps, ctypes.byref(need))
        mem, addr = aligned_buffer(need.value)
        size = need.value
    try:
        call(c_fn, user, addr, size)
    except Exception as exc:  # the callback's own exception is more useful than QLOW_E_CALLBACK
        if isinstance(cb, _Callback) and cb.error is not None:
            cb.reraise(exc)
        raise
    return cb


def hvp_top_eigen(hvp, n, tol=1e-3, max_iter=100, ctx=None, numpy=False, workspace=False):
    """Largest-magnitude eigenvalue of the Hessian behind `hvp(v_in, v_out)` (or an FdHvp):
    (lambda, iterations)."""
    lam, it = ctypes.c_double(), ctypes.c_int32()
    _spectral(lambda f, u, a, s: lib.qlow_hvp_top_eigen(ctx_handle(ctx), f, u, n, tol, max_iter, a, s,
                                                          ctypes.byref(lam), ctypes.byref(it)),
              hvp, n, numpy, workspace)
    return lam.value, it.value


def hvp_lanczos(hvp, n, k, steps=None, ctx=None, numpy=False, workspace=False):
    """The k largest eigenvalues (descending) from `steps` Lanczos steps."""
    steps = steps if steps is not None else 3 * k
    import array
    eigs = array.array("d", bytes(8 * k))
    addr = ctypes.c_void_p(eigs.buffer_info()[0])
    _spectral(lambda f, u, a, s: lib.qlow_hvp_lanczos(ctx_handle(ctx), f, u, n, steps, k, a, s, addr),
              hvp, n, numpy, workspace, steps)
    return list(eigs)


def hvp_trace(hvp, n, max_probes=100, rel_tol=0.0, ctx=None, numpy=False, workspace=False):
    """Hutchinson trace estimate: (trace, std_error, probes_used)."""
    tr, se, pu = ctypes.c_double(), ctypes.c_double(), ctypes.c_int32()
    _spectral(lambda f, u, a, s: lib.qlow_hvp_trace(ctx_handle(ctx), f, u, n, max_probes, rel_tol, a, s,
                                                      ctypes.byref(tr), ctypes.byref(se), ctypes.byref(pu)),
              hvp, n, numpy, workspace)
    return tr.value, se.value, pu.value


class FdHvp(Handle):
    """Finite-difference HVP from a gradient callback grad(theta, g_out) at `theta`. Pass the object
    where an hvp callback is expected. It keeps the callback and theta alive while C may use them."""

    _destroy = "qlow_fd_hvp_destroy"

    def __init__(self, grad, theta, step=0.0, allocator=None, numpy=False):
        aptr, akeep = allocator_arg(allocator)
        taddr, tkeep, isnp, self.n = B.float_array(theta)
        self._cb = _Callback(grad, numpy or isnp)
        out = ctypes.c_void_p()
        lib.qlow_fd_hvp_create(aptr, self._cb.c_fn, None, taddr, self.n, step, ctypes.byref(out))
        super().__init__(out, [akeep, tkeep, self._cb])
        self.apply_fn = ctypes.cast(lib.qlow_fd_hvp_apply, HVP_FN)

    def apply(self, v):
        """H v as a list (one product)."""
        vaddr, vkeep, _, _ = B.float_array(v, self.n)
        out = B.new_float((self.n,), False)
        oaddr, okeep, _, _ = B.float_array(out, self.n, writable=True)
        if lib.qlow_fd_hvp_apply(self.handle, vaddr, oaddr, self.n) != 0:
            if self._cb.error is not None:
                raise self._cb.error
            raise RuntimeError("qlow_fd_hvp_apply failed")
        return out
