"""Quantization (qlow_quantize) and packed matrices (qlow_qmatrix)."""
import ctypes
import threading

from . import _buffers as B
from . import constants as C
from ._handle import Handle
from ._lib import lib
from .core import Ctx, Params, params_arg

_local = threading.local()


def default_ctx():
    """A per-thread default context (a qlow_ctx must not be used by two threads at once)."""
    ctx = getattr(_local, "ctx", None)
    if ctx is None or ctx.closed:
        ctx = _local.ctx = Ctx()
    return ctx


def ctx_handle(ctx):
    return (ctx if ctx is not None else default_ctx()).handle


SCHEMES = {"rtn": C.QLOW_SCHEME_RTN, "binary": C.QLOW_SCHEME_BINARY,
           "binary_residual": C.QLOW_SCHEME_BINARY_RESIDUAL, "ternary": C.QLOW_SCHEME_TERNARY}
OPTION_KEYS = {
    "scheme": C.QLOW_P_SCHEME, "bits": C.QLOW_P_BITS, "group_cols": C.QLOW_P_GROUP_COLS,
    "group_rows": C.QLOW_P_GROUP_ROWS, "symmetric": C.QLOW_P_SYMMETRIC,
    "range_search": C.QLOW_P_RANGE_SEARCH, "range_steps": C.QLOW_P_RANGE_STEPS,
    "range_min_ratio": C.QLOW_P_RANGE_MIN_RATIO, "ternary_packing": C.QLOW_P_TERNARY_PACKING,
    "row_groups": C.QLOW_P_ROW_GROUPS, "binary_optimal": C.QLOW_P_BINARY_OPTIMAL,
    "range_refine": C.QLOW_P_RANGE_REFINE,
}


class _ParamsScope:
    """Params built from (params, **options) for the duration of one call."""

    def __init__(self, params, options, keys=OPTION_KEYS):
        self.owned = None
        base = params_arg(params)
        if options:
            merged = {}
            if isinstance(params, dict):
                merged.update(params)
            elif isinstance(params, Params):
                raise TypeError("pass options either as a Params object or as keywords, not both")
            for name, value in options.items():
                if name not in keys:
                    raise TypeError("unknown option %r (known: %s)" % (name, ", ".join(sorted(keys))))
                if name == "scheme" and isinstance(value, str):
                    value = SCHEMES[value]
                merged[keys[name]] = value
            base = Params(merged)
        if base is not None and base is not params:
            self.owned = base
        self.params = base

    @property
    def handle(self):
        return self.params.handle if self.params is not None else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.owned is not None:
            self.owned.close()


def _importance_arg(importance, cols):
    if importance is None:
        return None, None
    addr, keep, _, _ = B.float_array(importance, cols)
    return addr, keep


def quantize(W, params=None, importance=None, ctx=None, **options):
    """Quantize W [rows x cols] (list, array, memoryview or ndarray; f32, f16 with numpy, any strides)
    into a QMatrix. Options by keyword (scheme='rtn'|'binary'|'binary_residual'|'ternary', bits,
    group_cols, group_rows, symmetric, ...) or as a Params / {key: value} dict. `importance` is the
    per-column weight (e.g. Hessian.diag())."""
    d = B.describe(W, ndim=2)
    imp, keep = _importance_arg(importance, d.shape[1])
    out = ctypes.c_void_p()
    with _ParamsScope(params, options) as ps:
        lib.qlow_quantize(ctx_handle(ctx), ps.handle, d.ptr, imp, ctypes.byref(out))
    del keep
    return QMatrix(out, numpy=d.numpy)


GPTQ_KEYS = dict(OPTION_KEYS, block=C.QLOW_GPTQ_BLOCK, act_order=C.QLOW_GPTQ_ACT_ORDER, damp=C.QLOW_GPTQ_DAMP,
                 damp_retries=C.QLOW_GPTQ_DAMP_RETRIES)


def gptq_quantize(W, hessian, params=None, ctx=None, workspace=False, **options):
    """GPTQ: quantize W [rows x cols] with the layer Hessian (a FULL qlow.Hessian of its inputs), pushing
    each column's rounding error onto the remaining columns. RTN options plus block, act_order, damp,
    damp_retries. `workspace=True` runs qlow_gptq_quantize_ws with Python-owned scratch."""
    d = B.describe(W, ndim=2)
    out = ctypes.c_void_p()
    with _ParamsScope(params, options, GPTQ_KEYS) as ps:
        if workspace:
            need = ctypes.c_size_t()
            lib.qlow_gptq_workspace_size(ps.handle, d.shape[0], d.shape[1], ctypes.byref(need))
            mem, addr = aligned_buffer(need.value)
            lib.qlow_gptq_quantize_ws(ctx_handle(ctx), ps.handle, d.ptr, hessian.handle, addr, need.value,
                                      ctypes.byref(out))
        else:
            lib.qlow_gptq_quantize(ctx_handle(ctx), ps.handle, d.ptr, hessian.handle, ctypes.byref(out))
    return QMatrix(out, numpy=d.numpy)


def gptq_fake_quantize(W, hessian, params=None, ctx=None, workspace=False, out=None, **options):
    """The GPTQ pass returning dequantized weights (any RTN width 2..8, no packed format needed):
    (W_hat [rows x cols], loss)."""
    d = B.describe(W, ndim=2)
    rows, cols = d.shape
    if out is None:
        out = B.new_float((rows, cols), d.numpy)
    oaddr, okeep, _, _ = B.float_array(out, rows * cols, writable=True)
    loss = ctypes.c_double()
    with _ParamsScope(params, options, GPTQ_KEYS) as ps:
        if workspace:
            need = ctypes.c_size_t()
            lib.qlow_gptq_workspace_size(ps.handle, rows, cols, ctypes.byref(need))
            mem, addr = aligned_buffer(need.value)
            lib.qlow_gptq_fake_quantize_ws(ctx_handle(ctx), ps.handle, d.ptr, hessian.handle, addr, need.value,
                                           oaddr, rows * cols, ctypes.byref(loss))
        else:
            lib.qlow_gptq_fake_quantize(ctx_handle(ctx), ps.handle, d.ptr, hessian.handle, oaddr, rows * cols,
                                        ctypes.byref(loss))
    return out, loss.value


def quantize_serialized(W, params=None, importance=None, ctx=None, **options):
    """qlow_quantize_to_buffer: the serialized matrix as a bytearray (no allocation inside libqlow;
    Python provides the workspace and the output)."""
    d = B.describe(W, ndim=2)
    imp, keep = _importance_arg(importance, d.shape[1])
    ws, nout = ctypes.c_size_t(), ctypes.c_size_t()
    with _ParamsScope(params, options) as ps:
        h = ctx_handle(ctx)
        lib.qlow_quantize_workspace_size(h, ps.handle, d.shape[0], d.shape[1], ctypes.byref(ws),
                                         ctypes.byref(nout))
        work, work_addr = aligned_buffer(ws.value)
        out, out_addr = aligned_buffer(nout.value)
        lib.qlow_quantize_to_buffer(h, ps.handle, d.ptr, imp, work_addr, ws.value, out_addr, nout.value)
    del keep, work
    return out


def aligned_buffer(n, align=64):
    """A zero-filled writable buffer of n bytes whose start is `align`-aligned: (memoryview, address).
    The memoryview keeps the underlying bytearray alive."""
    raw = bytearray(n + align)
    base = ctypes.addressof((ctypes.c_char * len(raw)).from_buffer(raw))
    off = (-base) % align
    return memoryview(raw)[off:off + n], ctypes.c_void_p(base + off)


def format_name(fmt):
    return lib.qlow_format_name(fmt).decode()


def format_bits_per_weight(fmt, rows, cols, group_cols=0, group_rows=0, flags=0, n_salient=0):
    out = ctypes.c_double()
    lib.qlow_format_bits_per_weight(fmt, rows, cols, group_cols, group_rows, flags, n_salient, ctypes.byref(out))
    return out.value


class QMatrix(Handle):
    """A packed quantized matrix (immutable; shareable between threads). From quantize(), QMatrix.wrap()
    of serialized bytes (zero-copy when aligned), or QFile.packed()."""

    _destroy = "qlow_qmatrix_destroy"

    def __init__(self, ptr, keep=(), numpy=False):
        super().__init__(ptr, keep)
        self.numpy = numpy

    @classmethod
    def wrap(cls, data, ctx=None, static=False):
        """Open serialized bytes in place (bytes, bytearray, memoryview, mmap, numpy uint8). Buffers
        that are not 8-byte aligned are copied once. `static` places the handle in Python memory
        (qlow_qmatrix_wrap_static) instead of the ctx allocator."""
        addr, keep = B.byte_pointer(data)
        n = memoryview(data).nbytes if not B.is_ndarray(data) else data.nbytes
        if (addr.value or 0) % 64:
            copy, addr = aligned_buffer(n)
            copy[:] = memoryview(data).cast("B") if not B.is_ndarray(data) else data.tobytes()
            keep = copy
        out = ctypes.c_void_p()
        if static:
            need = ctypes.c_size_t()
            lib.qlow_qmatrix_wrap_size(addr, n, ctypes.byref(need))
            mem, mem_addr = aligned_buffer(need.value)
            lib.qlow_qmatrix_wrap_static(mem_addr, need.value, addr, n, ctypes.byref(out))
            keep = (keep, mem)
        else:
            lib.qlow_qmatrix_wrap(ctx_handle(ctx), addr, n, ctypes.byref(out))
        return cls(out, [keep], numpy=B.is_ndarray(data))

    @property
    def format(self):
        v = ctypes.c_int32()
        lib.qlow_qmatrix_format(self.handle, ctypes.byref(v))
        return v.value

    @property
    def format_name(self):
        return format_name(self.format)

    @property
    def shape(self):
        r, c = ctypes.c_int64(), ctypes.c_int64()
        lib.qlow_qmatrix_shape(self.handle, ctypes.byref(r), ctypes.byref(c))
        return r.value, c.value

    @property
    def nbytes(self):
        v = ctypes.c_size_t()
        lib.qlow_qmatrix_bytes(self.handle, ctypes.byref(v))
        return v.value

    @property
    def bits_per_weight(self):
        v = ctypes.c_double()
        lib.qlow_qmatrix_bits_per_weight(self.handle, ctypes.byref(v))
        return v.value

    def dequantize(self, row_begin=0, row_count=None, out=None):
        rows, cols = self.shape
        if row_count is None:
            row_count = rows - row_begin
        if out is None:
            out = B.new_float((row_count, cols), self.numpy)
        addr, keep, _, _ = B.float_array(out, row_count * cols, writable=True)
        lib.qlow_qmatrix_dequantize(self.handle, row_begin, row_count, addr, row_count * cols)
        return out

    def workspace_size(self, batch=1, act8=False):
        """Bytes of scratch the workspace GEMV/GEMM variants need for `batch` tokens."""
        n = ctypes.c_size_t()
        lib.qlow_gemm_workspace_size(self.handle, batch, C.QLOW_GEMM_ACT8 if act8 else 0, ctypes.byref(n))
        return n.value

    def _product(self, X, batch, out, shape, act8, ctx, workspace):
        rows, cols = self.shape
        xaddr, xkeep, isnp, n = B.float_array(X)
        if n != batch * cols:
            raise ValueError("expected %d x %d input values, got %d" % (batch, cols, n))
        if out is None:
            out = B.new_float(shape, isnp or self.numpy)
        yaddr, ykeep, _, _ = B.float_array(out, batch * rows, writable=True)
        h = ctx_handle(ctx)
        if workspace:
            need = self.workspace_size(batch, act8)
            mem, maddr = aligned_buffer(need)
            if batch == 1 and not act8:
                lib.qlow_gemv_ws(h, self.handle, xaddr, yaddr, maddr, need)
            else:
                fn = lib.qlow_gemm_act8_ws if act8 else lib.qlow_gemm_ws
                fn(h, self.handle, xaddr, batch, yaddr, maddr, need)
        elif batch == 1 and not act8:
            lib.qlow_gemv(h, self.handle, xaddr, yaddr)
        else:
            (lib.qlow_gemm_act8 if act8 else lib.qlow_gemm)(h, self.handle, xaddr, batch, yaddr)
        return out

    def gemv(self, x, out=None, ctx=None, workspace=False):
        """y[rows] = W x[cols] with the packed kernels (activations quantized per block inside)."""
        return self._product(x, 1, out, (self.shape[0],), False, ctx, workspace)

    def gemm(self, X, out=None, act8=False, ctx=None, workspace=False):
        """Y[t] = W X[t] for every row t of X [batch x cols]; act8 = Q-BERT per-token 8-bit activations."""
        if B.is_ndarray(X):
            batch = X.shape[0] if X.ndim == 2 else 1
        else:
            d = B.describe(X, ndim=0)
            batch = d.shape[0] if len(d.shape) == 2 else 1
        return self._product(X, batch, out, (batch, self.shape[0]), act8, ctx, workspace)

    def serialize(self):
        n = ctypes.c_size_t()
        lib.qlow_qmatrix_serialized_size(self.handle, ctypes.byref(n))
        buf = bytearray(n.value)
        addr, keep = B.byte_pointer(buf)
        lib.qlow_qmatrix_serialize(self.handle, addr, n.value)
        return buf

    def __repr__(self):
        if self.closed:
            return "<qlow.QMatrix closed>"
        return "<qlow.QMatrix %s %dx%d, %.4f bits/weight>" % ((self.format_name,) + self.shape
                                                              + (self.bits_per_weight,))
