"""PTQ1.61 (src/mask, src/scale): activation statistics, the 1-D salient-column mask, one-call layer
quantization to the M161 format, and the engine-driven scale optimizer."""
import array
import ctypes

from . import _buffers as B
from . import constants as C
from ._handle import Handle
from ._lib import lib
from .core import allocator_arg
from .quant import OPTION_KEYS, QMatrix, _ParamsScope, ctx_handle

PTQ161_KEYS = dict(OPTION_KEYS, mask_ratio=C.QLOW_MASK_RATIO, mask_statistic=C.QLOW_MASK_STATISTIC,
                   salient_range=C.QLOW_PTQ161_SALIENT_RANGE, alpha_init=C.QLOW_PTQ161_ALPHA_INIT,
                   optimize=C.QLOW_PTQ161_OPTIMIZE, equalize=C.QLOW_PTQ161_EQUALIZE,
                   equalize_grid=C.QLOW_PTQ161_EQUALIZE_GRID, lowrank=C.QLOW_PTQ161_LOWRANK,
                   gptq=C.QLOW_PTQ161_GPTQ, gptq_damp=C.QLOW_PTQ161_GPTQ_DAMP, lr_alpha=C.QLOW_SCALE_LR_ALPHA,
                   lr_r=C.QLOW_SCALE_LR_R, beta1=C.QLOW_SCALE_BETA1, beta2=C.QLOW_SCALE_BETA2, eps=C.QLOW_SCALE_EPS,
                   weight_decay=C.QLOW_SCALE_WEIGHT_DECAY, lambda_cos=C.QLOW_SCALE_LAMBDA_COS,
                   als_iters=C.QLOW_SCALE_ALS_ITERS, cg_iters=C.QLOW_SCALE_CG_ITERS,
                   adam_steps=C.QLOW_SCALE_ADAM_STEPS, batch_tokens=C.QLOW_SCALE_BATCH_TOKENS,
                   fit_tokens=C.QLOW_SCALE_FIT_TOKENS)


def mask_bytes(cols):
    return (cols + 7) // 8


def _floats(n):
    a = array.array("f", bytes(4 * n))
    return a, ctypes.c_void_p(a.buffer_info()[0] if n else None)


class ActStats(Handle):
    """Per-column activation statistics (absmax, absmean, sqmean) over calibration tokens."""

    _destroy = "qlow_actstats_destroy"

    def __init__(self, cols, allocator=None):
        aptr, keep = allocator_arg(allocator)
        out = ctypes.c_void_p()
        lib.qlow_actstats_create(aptr, cols, ctypes.byref(out))
        super().__init__(out, [keep])
        self.cols = cols

    def update(self, X):
        d = B.describe(X, ndim=2)
        lib.qlow_actstats_update(self.handle, d.ptr)

    def merge(self, other):
        lib.qlow_actstats_merge(self.handle, other.handle)

    def get(self, which=C.QLOW_ACTSTAT_ABSMAX):
        """(values[cols], tokens)."""
        vals, addr = _floats(self.cols)
        tokens = ctypes.c_int64()
        lib.qlow_actstats_get(self.handle, which, addr, self.cols, ctypes.byref(tokens))
        return list(vals), tokens.value

    def mask(self, params=None, **options):
        """(mask bytes, n_salient) from these statistics (QLOW_MASK_RATIO, QLOW_MASK_STATISTIC)."""
        m = bytearray(mask_bytes(self.cols))
        addr, keep = B.byte_pointer(m)
        n = ctypes.c_int64()
        with _ParamsScope(params, options, PTQ161_KEYS) as ps:
            lib.qlow_actstats_mask(self.handle, ps.handle, addr, ctypes.byref(n))
        return m, n.value


def mask_select(score, ratio):
    """(mask bytes, n_salient): the top `ratio` of columns by score."""
    addr, keep, _, cols = B.float_array(score)
    m = bytearray(mask_bytes(cols))
    maddr, mkeep = B.byte_pointer(m)
    n = ctypes.c_int64()
    lib.qlow_mask_select(addr, cols, ratio, maddr, ctypes.byref(n))
    return m, n.value


def mask_permutation(mask, cols):
    """(perm: salient columns first, n_salient)."""
    maddr, mkeep = B.byte_pointer(bytes(mask))
    perm = array.array("i", bytes(4 * cols))
    n = ctypes.c_int64()
    lib.qlow_mask_permutation(maddr, cols, ctypes.c_void_p(perm.buffer_info()[0]), ctypes.byref(n))
    return list(perm), n.value


def bits(rows, cols, n_salient):
    """The six bit-accounting figures (QLOW_BITS_PAPER_WEIGHT .. QLOW_BITS_STORED_BYTES)."""
    out = array.array("d", bytes(8 * C.QLOW_BITS_COUNT))
    lib.qlow_ptq161_bits(rows, cols, n_salient, ctypes.c_void_p(out.buffer_info()[0]))
    return list(out)


def _stats_arg(stats):
    return stats.handle if stats is not None else None


def quantize(W, X=None, stats=None, params=None, ctx=None, **options):
    """PTQ1.61 of one layer into a packed M161 QMatrix: (qmatrix, fold_scale[cols])."""
    d = B.describe(W, ndim=2)
    x = B.describe(X, ndim=2) if X is not None else None
    fold, faddr = _floats(d.shape[1])
    out = ctypes.c_void_p()
    with _ParamsScope(params, options, PTQ161_KEYS) as ps:
        lib.qlow_ptq161_quantize(ctx_handle(ctx), ps.handle, d.ptr, x.ptr if x else None, _stats_arg(stats),
                                 ctypes.byref(out), faddr)
    return QMatrix(out, numpy=d.numpy), list(fold)


def _fake(fn, W, second, stats, params, ctx, options):
    d = B.describe(W, ndim=2)
    s = B.describe(second, ndim=2) if second is not None else None
    rows, cols = d.shape
    what = B.new_float((rows, cols), d.numpy)
    waddr, wkeep, _, _ = B.float_array(what, rows * cols, writable=True)
    m = bytearray(mask_bytes(cols))
    maddr, mkeep = B.byte_pointer(m)
    fold, faddr = _floats(cols)
    with _ParamsScope(params, options, PTQ161_KEYS) as ps:
        fn(ctx_handle(ctx), ps.handle, d.ptr, s.ptr if s else None, _stats_arg(stats), waddr, maddr, faddr)
    return what, m, list(fold)


def quantize_f32(W, X=None, stats=None, params=None, ctx=None, **options):
    """PTQ1.61 returning (W_hat, mask bytes, fold_scale) instead of a packed matrix."""
    return _fake(lib.qlow_ptq161_quantize_f32, W, X, stats, params, ctx, options)


def quantize_gram_f32(W, H, stats, params=None, ctx=None, **options):
    """PTQ1.61 from the Gram matrix H [cols x cols] instead of tokens: (W_hat, mask bytes, fold_scale)."""
    return _fake(lib.qlow_ptq161_quantize_gram_f32, W, H, stats, params, ctx, options)


class ScaleOpt(Handle):
    """The engine-driven PTQ1.61 scale optimizer: add_linear, then weight() -> your forward/backward ->
    grad()/grad_dy() -> step(), then quantize()."""

    _destroy = "qlow_scaleopt_destroy"

    def __init__(self, params=None, ctx=None, **options):
        out = ctypes.c_void_p()
        with _ParamsScope(params, options, PTQ161_KEYS) as ps:
            lib.qlow_scaleopt_create(ctx_handle(ctx), ps.handle, ctypes.byref(out))
        super().__init__(out, [ctx])
        self.shapes = []

    def add_linear(self, W, mask):
        d = B.describe(W, ndim=2)
        maddr, mkeep = B.byte_pointer(bytes(mask))
        lid = ctypes.c_int32()
        lib.qlow_scaleopt_add_linear(self.handle, d.ptr, maddr, ctypes.byref(lid))
        self.shapes.append((d.shape, d.numpy))
        return lid.value

    def weight(self, lid):
        (rows, cols), isnp = self.shapes[lid]
        out = B.new_float((rows, cols), isnp)
        addr, keep, _, _ = B.float_array(out, rows * cols, writable=True)
        lib.qlow_scaleopt_weight(self.handle, lid, addr)
        return out

    def grad(self, lid, dW_hat):
        d = B.describe(dW_hat, ndim=2)
        lib.qlow_scaleopt_grad(self.handle, lid, d.ptr)

    def grad_dy(self, lid, dY, X):
        dy, x = B.describe(dY, ndim=2), B.describe(X, ndim=2)
        lib.qlow_scaleopt_grad_dy(self.handle, lid, dy.ptr, x.ptr)

    def step(self):
        lib.qlow_scaleopt_step(self.handle)

    def scales(self, lid):
        """(alpha[rows], r1[rows], mu[rows], r2[cols])."""
        (rows, cols), _ = self.shapes[lid]
        a, aa = _floats(rows)
        r1, ar1 = _floats(rows)
        mu, amu = _floats(rows)
        r2, ar2 = _floats(cols)
        lib.qlow_scaleopt_scales(self.handle, lid, aa, ar1, amu, ar2)
        return list(a), list(r1), list(mu), list(r2)

    def quantize(self, lid):
        out = ctypes.c_void_p()
        lib.qlow_scaleopt_quantize(self.handle, lid, ctypes.byref(out))
        return QMatrix(out, numpy=self.shapes[lid][1])
