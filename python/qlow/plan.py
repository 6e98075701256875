"""Layer sensitivities and the bit-allocation planner (src/plan)."""
import array
import ctypes

from . import _buffers as B
from . import constants as C
from ._lib import lib
from .core import allocator_arg
from .quant import _ParamsScope, aligned_buffer, ctx_handle

PLAN_KEYS = {"budget_units": C.QLOW_PLAN_BUDGET_UNITS}


def qbert_omega(lambdas):
    """Q-BERT's Omega = |mean| + std of the top eigenvalues over calibration runs."""
    addr, keep = B.typed_array("d", lambdas)
    out = ctypes.c_double()
    lib.qlow_plan_qbert_omega(addr, len(keep), ctypes.byref(out))
    return out.value


def hawq_v2(trace, n_params, W, Wq):
    a, b = B.describe(W), B.describe(Wq)
    out = ctypes.c_double()
    lib.qlow_plan_hawq_v2(trace, n_params, a.ptr, b.ptr, ctypes.byref(out))
    return out.value


def diag_weighted(hdiag, W, Wq):
    addr, keep, _, n = B.float_array(hdiag)
    a, b = B.describe(W), B.describe(Wq)
    out = ctypes.c_double()
    lib.qlow_plan_diag_weighted(addr, n, a.ptr, b.ptr, ctypes.byref(out))
    return out.value


def layer_error(hessian, W, Wq, ctx=None, workspace=False):
    """Exact tr(dW H dW^T) against a FULL Hessian accumulator. `workspace=True` passes Python-owned
    scratch (qlow_plan_layer_error_workspace_size) instead of letting the ctx allocator provide it."""
    a, b = B.describe(W), B.describe(Wq)
    out = ctypes.c_double()
    h = ctx_handle(ctx)
    mem, addr, size = None, None, 0
    if workspace:
        need = ctypes.c_size_t()
        lib.qlow_plan_layer_error_workspace_size(h, a.shape[0], a.shape[1], ctypes.byref(need))
        mem, addr = aligned_buffer(need.value)
        size = need.value
    lib.qlow_plan_layer_error(h, hessian.handle, a.ptr, b.ptr, addr, size, ctypes.byref(out))
    return out.value


def _matrix_rows(m):
    if B.is_ndarray(m):
        return m.shape[0], m.shape[1], m.astype("float64").ravel().tolist()
    rows = [list(r) for r in m]
    n = len(rows[0]) if rows else 0
    if any(len(r) != n for r in rows):
        raise ValueError("ragged size/cost table")
    return len(rows), n, [v for r in rows for v in r]


def solve(size, cost, budget, tie=None, params=None, allocator=None, workspace=False, **options):
    """Exact multiple-choice knapsack: the choice per layer minimizing total cost within `budget`.
    size and cost are [layers x choices] (nested lists or ndarray). Returns (choices, total_cost,
    total_size). Options: budget_units."""
    nl, nc, sflat = _matrix_rows(size)
    nl2, nc2, cflat = _matrix_rows(cost)
    if (nl, nc) != (nl2, nc2):
        raise ValueError("size and cost tables differ in shape")
    saddr, skeep = B.typed_array("d", sflat)
    caddr, ckeep = B.typed_array("d", cflat)
    taddr, tkeep = B.typed_array("i", tie) if tie is not None else (None, None)
    choice = array.array("i", bytes(4 * nl))
    chaddr = ctypes.c_void_p(choice.buffer_info()[0] if nl else None)
    tc, ts = ctypes.c_double(), ctypes.c_double()
    with _ParamsScope(params, options, PLAN_KEYS) as ps:
        if workspace:
            need = ctypes.c_size_t()
            lib.qlow_plan_solve_workspace_size(nl, nc, ps.handle, ctypes.byref(need))
            mem, maddr = aligned_buffer(need.value)
            lib.qlow_plan_solve_ws(ps.handle, nl, nc, saddr, caddr, taddr, budget, chaddr, ctypes.byref(tc),
                                   ctypes.byref(ts), maddr, need.value)
        else:
            aptr, akeep = allocator_arg(allocator)
            lib.qlow_plan_solve(aptr, ps.handle, nl, nc, saddr, caddr, taddr, budget, chaddr, ctypes.byref(tc),
                                ctypes.byref(ts))
    return list(choice), tc.value, ts.value


def qbert_rule(omega, fraction_high, bits_low, bits_high):
    """Q-BERT's rule: the top fraction of layers by Omega get bits_high, the others bits_low."""
    addr, keep = B.typed_array("d", omega)
    bits = array.array("i", bytes(4 * len(keep)))
    lib.qlow_plan_qbert_rule(len(keep), addr, fraction_high, bits_low, bits_high,
                             ctypes.c_void_p(bits.buffer_info()[0] if len(keep) else None))
    return list(bits)
