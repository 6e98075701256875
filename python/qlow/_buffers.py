"""Turning Python data into qlow_view descriptions and back.

Accepted inputs, cheapest first:
  - numpy.ndarray of float32/float16 (any strides, negative ones too): described in place, no copy;
    other float dtypes are converted to float32 (one copy);
  - objects with the buffer protocol and a 'f' or 'e' format (array.array('f'), memoryview, bytearray
    cast to 'f'): described in place when writable, copied when read-only;
  - lists, nested lists and tuples of numbers: copied once into an array.array('f').
Outputs are numpy arrays when the caller passed numpy data, otherwise shaped memoryviews over an
array.array (which numpy.asarray() would also take without copying).
"""
import array
import ctypes

from ._lib import View, lib
from . import constants as C

try:  # numpy is optional
    import numpy as _np
except ImportError:  # pragma: no cover - depends on the interpreter
    _np = None

_FORMAT_DTYPE = {"f": C.QLOW_DTYPE_F32, "e": C.QLOW_DTYPE_F16, "d": C.QLOW_DTYPE_F64,
                 "b": C.QLOW_DTYPE_I8, "B": C.QLOW_DTYPE_U8, "i": C.QLOW_DTYPE_I32}
_ITEMSIZE = {C.QLOW_DTYPE_F32: 4, C.QLOW_DTYPE_F16: 2, C.QLOW_DTYPE_BF16: 2, C.QLOW_DTYPE_I8: 1,
             C.QLOW_DTYPE_U8: 1, C.QLOW_DTYPE_I32: 4, C.QLOW_DTYPE_F64: 8}


def have_numpy():
    return _np is not None


def is_ndarray(obj):
    return _np is not None and isinstance(obj, _np.ndarray)


class Described:
    """A qlow_view over some Python-owned memory, plus whatever must stay alive while C reads it."""

    __slots__ = ("view", "keep", "shape", "numpy")

    def __init__(self, view, keep, shape, numpy):
        # The view holds the memory it describes, so that a ctypes.byref(view) passed on its own (an
        # expression like f(describe(x).ptr)) still keeps that memory alive through the call.
        view.keep_memory = keep
        self.view = view
        self.keep = keep
        self.shape = shape
        self.numpy = numpy

    @property
    def ptr(self):
        return ctypes.byref(self.view)

    @property
    def data(self):
        return self.view.data


def _nest_shape(obj):
    shape = []
    while isinstance(obj, (list, tuple)):
        shape.append(len(obj))
        if not obj:
            break
        obj = obj[0]
    return shape


def _flatten(obj, depth):
    if depth == 0:
        return [obj]
    out = []
    for item in obj:
        if depth > 1 and not isinstance(item, (list, tuple)):
            raise ValueError("ragged nested list")
        out.extend(_flatten(item, depth - 1) if depth > 1 else [item])
    return out


def _fill_view(dtype, shape, strides, address):
    v = View()
    v.struct_size = ctypes.sizeof(View)
    v.dtype = dtype
    v.ndim = len(shape)
    v.data = address
    for d in range(C.QLOW_VIEW_MAX_DIMS):
        v.shape[d] = shape[d] if d < len(shape) else 1
        v.stride_bytes[d] = strides[d] if d < len(shape) else 0
    return v


def _contig_strides(shape, itemsize):
    strides, acc = [], itemsize
    for n in reversed(shape):
        strides.insert(0, acc)
        acc *= max(n, 1)
    return strides


def _reshape_check(shape, want_ndim, given):
    if want_ndim and len(shape) != want_ndim:
        raise ValueError("expected a %d-D array, got shape %s" % (want_ndim, tuple(given)))


def describe(obj, ndim=2, shape=None, writable=False, dtypes=("f", "e")):
    """A Described view of `obj`. `shape` reshapes flat (1-D) input; `writable` demands memory C may
    write (read-only buffers are refused instead of silently copied); `dtypes` lists the element
    formats the C function accepts ('f' float32, 'e' float16)."""
    if is_ndarray(obj):
        return _describe_numpy(obj, ndim, shape, writable, dtypes)
    if isinstance(obj, (list, tuple)):
        if writable:
            raise TypeError("an output must be a writable buffer, not a list")
        nest = _nest_shape(obj)
        flat = array.array("f", _flatten(obj, len(nest)) if nest and nest[-1] else [])
        return _describe_buffer(memoryview(flat), ndim, shape or nest, writable, dtypes, keep=flat)
    try:
        mv = memoryview(obj)
    except TypeError:
        raise TypeError("expected a list, array.array, memoryview or numpy array, got %s"
                        % type(obj).__name__) from None
    return _describe_buffer(mv, ndim, shape, writable, dtypes, keep=obj)


def _describe_numpy(a, ndim, shape, writable, dtypes):
    if shape is not None and tuple(a.shape) != tuple(shape):
        a = a.reshape(shape)
    want = {"f": _np.float32, "e": _np.float16}
    if a.dtype.char not in dtypes:
        if writable:
            raise TypeError("output array must have dtype %s, got %s"
                            % ("/".join(_np.dtype(want.get(d, d)).name for d in dtypes), a.dtype))
        a = _np.asarray(a, dtype=_np.float32 if "f" in dtypes else want[dtypes[0]])
    if writable and not a.flags.writeable:
        raise TypeError("output array is read-only")
    _reshape_check(a.shape, ndim, a.shape)
    v = _fill_view(_FORMAT_DTYPE[a.dtype.char], list(a.shape), list(a.strides), a.ctypes.data or None)
    return Described(v, a, tuple(a.shape), True)


def _describe_buffer(mv, ndim, shape, writable, dtypes, keep):
    fmt = mv.format.lstrip("@=<")
    if fmt not in dtypes:
        raise TypeError("buffer format %r not accepted here (want one of %s)" % (mv.format, ", ".join(dtypes)))
    if not mv.c_contiguous:
        raise TypeError("non-contiguous buffers are only accepted as numpy arrays")
    dims = list(shape) if shape is not None else list(mv.shape)
    count = 1
    for n in dims:
        count *= n
    if count != mv.nbytes // mv.itemsize:
        raise ValueError("shape %s does not match %d elements" % (tuple(dims), mv.nbytes // mv.itemsize))
    _reshape_check(dims, ndim, dims)
    if mv.readonly:
        if writable:
            raise TypeError("output buffer is read-only")
        raw = (ctypes.c_char * mv.nbytes).from_buffer_copy(mv)
        keep = raw
    else:
        raw = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
        keep = (keep, raw)
    address = ctypes.addressof(raw) if mv.nbytes else None
    v = _fill_view(_FORMAT_DTYPE[fmt], dims, _contig_strides(dims, mv.itemsize), address)
    return Described(v, keep, tuple(dims), False)


def new_float(shape, numpy, fmt="f"):
    """A zero-filled contiguous output of `shape`; numpy when `numpy` and numpy is present."""
    count = 1
    for n in shape:
        count *= n
    if numpy and _np is not None:
        return _np.zeros(shape, dtype=_np.float32 if fmt == "f" else _np.float16)
    if fmt == "f":
        flat = array.array("f", bytes(4 * count))
        mv = memoryview(flat)
    else:
        flat = bytearray(2 * count)
        mv = memoryview(flat).cast("e")
    return mv.cast("B").cast(fmt, list(shape)) if len(shape) > 1 else mv


def new_bytes(n, numpy):
    if numpy and _np is not None:
        return _np.zeros(n, dtype=_np.uint8)
    return bytearray(n)


def byte_pointer(buf):
    """(address, keepalive) of a bytes-like object without copying where possible: bytes objects and
    writable buffers are used in place; other read-only buffers are copied."""
    if is_ndarray(buf):
        return ctypes.c_void_p(buf.ctypes.data), buf
    if isinstance(buf, bytes):
        return ctypes.cast(ctypes.c_char_p(buf), ctypes.c_void_p), buf
    mv = memoryview(buf)
    mv = mv.cast("B") if mv.format != "B" or mv.ndim != 1 else mv
    if mv.readonly:
        raw = (ctypes.c_char * mv.nbytes).from_buffer_copy(mv)
    else:
        raw = (ctypes.c_char * mv.nbytes).from_buffer(mv)
    return ctypes.c_void_p(ctypes.addressof(raw)), (buf, raw)


def any_numpy(*objs):
    return any(is_ndarray(o) for o in objs)


def init_view_c(dtype, shape, address):
    """A view filled by the C helper qlow_view_init (used by tests to cross-check _fill_view)."""
    v = View()
    dims = (ctypes.c_int64 * len(shape))(*shape)
    lib.qlow_view_init(ctypes.byref(v), dtype, len(shape), dims, address)
    return v


def float_array(obj, count=None, writable=False):
    """(address, keepalive, numpy_input, count) of a contiguous float32 vector: numpy float32 C-contiguous
    arrays and writable 'f' buffers in place, anything else converted (inputs only)."""
    if is_ndarray(obj):
        a = obj
        if a.dtype != _np.float32 or not a.flags.c_contiguous:
            if writable:
                raise TypeError("output must be a C-contiguous float32 array")
            a = _np.ascontiguousarray(a, dtype=_np.float32)
        if writable and not a.flags.writeable:
            raise TypeError("output array is read-only")
        n = a.size
        addr, keep, isnp = a.ctypes.data, a, True
    else:
        if isinstance(obj, (list, tuple)):
            if writable:
                raise TypeError("output must be a writable float32 buffer")
            obj = array.array("f", _flatten(obj, len(_nest_shape(obj))) if _nest_shape(obj) else [])
        mv = memoryview(obj)
        if mv.format.lstrip("@=<") != "f" or not mv.c_contiguous:
            if writable:
                raise TypeError("output must be a writable float32 buffer")
            mv = memoryview(array.array("f", list(_flat_list(mv.tolist())) if mv.ndim else [mv.tolist()]))
        n = mv.nbytes // 4
        if mv.readonly:
            if writable:
                raise TypeError("output buffer is read-only")
            raw = (ctypes.c_char * mv.nbytes).from_buffer_copy(mv)
        else:
            raw = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
        addr, keep, isnp = (ctypes.addressof(raw) if n else None), (obj, raw), False
    if count is not None and n != count:
        raise ValueError("expected %d floats, got %d" % (count, n))
    return ctypes.c_void_p(addr), keep, isnp, n


def _flat_list(items):
    for item in items:
        if isinstance(item, list):
            yield from _flat_list(item)
        else:
            yield item


def typed_array(code, values):
    """(address, keepalive) of a fresh contiguous array.array of `code` ('d', 'i', 'f', 'B') holding
    `values` (any iterable or buffer), or of a matching contiguous numpy array in place."""
    np_code = {"d": "float64", "i": "int32", "f": "float32", "B": "uint8"}[code]
    if is_ndarray(values) and values.dtype == _np.dtype(np_code) and values.flags.c_contiguous:
        return ctypes.c_void_p(values.ctypes.data or None), values
    arr = array.array(code, values.tolist() if is_ndarray(values) else values)
    return ctypes.c_void_p(arr.buffer_info()[0] if len(arr) else None), arr


def address_of(buf):
    """Address of a writable buffer made by new_float/new_bytes (or a numpy array)."""
    if is_ndarray(buf):
        return ctypes.c_void_p(buf.ctypes.data)
    mv = memoryview(buf)
    raw = (ctypes.c_char * mv.nbytes).from_buffer(mv.cast("B"))
    return ctypes.c_void_p(ctypes.addressof(raw) if mv.nbytes else None)
