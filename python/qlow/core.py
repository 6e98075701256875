"""The core API: versions, features, fp16, allocator hook, contexts and parameter sets."""
import ctypes
import threading

from . import constants as C
from ._handle import Handle
from ._lib import ALLOC_FN, FREE_FN, Allocator, lib


def version():
    return lib.qlow_version_string().decode()


def version_number():
    return lib.qlow_version_number()


def abi_version():
    return lib.qlow_abi_version()


def status_string(code):
    return lib.qlow_status_string(code).decode()


def has_feature(feature):
    return bool(lib.qlow_has_feature(feature))


def library_path():
    return lib._qlow_path


def fp32_to_fp16(value):
    return lib.qlow_fp32_to_fp16(value)


def fp16_to_fp32(half):
    return lib.qlow_fp16_to_fp32(half)


def fp32_to_bf16(value):
    return lib.qlow_fp32_to_bf16(value)


def bf16_to_fp32(bits):
    return lib.qlow_bf16_to_fp32(bits)


class CountingAllocator:
    """A qlow_allocator implemented in Python: counts live blocks and bytes, can fail the N-th attempt
    (fail_at, 1-based; 0 = never), and records frees of unknown pointers in `errors`. Memory comes from
    ctypes buffers, so tracemalloc sees it. Pass it as `allocator=` to any constructor; objects keep it
    (and with it the callbacks) alive for as long as they live."""

    def __init__(self, fail_at=0):
        self.fail_at = fail_at
        self.total = 0
        self.live = 0
        self.bytes_live = 0
        self.peak_bytes = 0
        self.errors = []
        self._blocks = {}
        self._lock = threading.Lock()
        self._alloc_cb = ALLOC_FN(self._alloc)
        self._free_cb = FREE_FN(self._free)
        self.struct = Allocator(self._alloc_cb, self._free_cb, None)

    def _alloc(self, user, size, align):
        with self._lock:
            self.total += 1
            if self.fail_at and self.total >= self.fail_at:
                return None
            buf = ctypes.create_string_buffer(size + align)
            base = ctypes.addressof(buf)
            aligned = (base + align - 1) & ~(align - 1)
            self._blocks[aligned] = (buf, size)
            self.live += 1
            self.bytes_live += size
            self.peak_bytes = max(self.peak_bytes, self.bytes_live)
            return aligned

    def _free(self, user, ptr):
        with self._lock:
            block = self._blocks.pop(ptr, None)
            if block is None:
                self.errors.append("free of unknown pointer 0x%x" % (ptr or 0))
                return
            self.live -= 1
            self.bytes_live -= block[1]

    @property
    def pointer(self):
        return ctypes.byref(self.struct)


def allocator_arg(allocator):
    """The (pointer, keepalive) pair for an optional allocator argument."""
    if allocator is None:
        return None, None
    if not isinstance(allocator, CountingAllocator):
        raise TypeError("allocator must be a qlow.CountingAllocator or None")
    return allocator.pointer, allocator


class Ctx(Handle):
    """qlow_ctx: allocator, thread count, seed and SIMD level. `threads`, `seed` and `isa_max` may be
    given as keywords. Use as a context manager or call close()."""

    _destroy = "qlow_ctx_destroy"

    def __init__(self, allocator=None, threads=None, seed=None, isa_max=None):
        aptr, keep = allocator_arg(allocator)
        out = ctypes.c_void_p()
        lib.qlow_ctx_create(aptr, ctypes.byref(out))
        super().__init__(out, [keep])
        self._configure(threads, seed, isa_max)

    def _configure(self, threads, seed, isa_max):
        for key, value in ((C.QLOW_CTX_NUM_THREADS, threads), (C.QLOW_CTX_SEED, seed),
                           (C.QLOW_CTX_ISA_MAX, isa_max)):
            if value is not None:
                self.set(key, value)

    @classmethod
    def static(cls, buffer=None, threads=None, seed=None):
        """A context placed in caller memory (qlow_ctx_init_static): no allocator, nothing to free.
        `buffer` defaults to a fresh bytearray of qlow_ctx_estimate_size() + alignment slack."""
        self = cls.__new__(cls)
        need = lib.qlow_ctx_estimate_size()
        if buffer is None:
            buffer = bytearray(need + 64)
        raw = (ctypes.c_char * len(buffer)).from_buffer(buffer)
        base = ctypes.addressof(raw)
        start = (base + 63) & ~63 if len(buffer) >= need + 64 else base
        out = ctypes.c_void_p()
        lib.qlow_ctx_init_static(ctypes.c_void_p(start), len(buffer) - (start - base), ctypes.byref(out))
        Handle.__init__(self, out, [buffer, raw])
        self._destroy = None
        self._configure(threads, seed, None)
        return self

    def set(self, key, value):
        lib.qlow_ctx_set_int(self.handle, key, int(value))

    def get(self, key):
        v = ctypes.c_int64()
        lib.qlow_ctx_get_int(self.handle, key, ctypes.byref(v))
        return v.value

    threads = property(lambda self: self.get(C.QLOW_CTX_NUM_THREADS),
                       lambda self, v: self.set(C.QLOW_CTX_NUM_THREADS, v))
    seed = property(lambda self: self.get(C.QLOW_CTX_SEED), lambda self, v: self.set(C.QLOW_CTX_SEED, v))
    isa_max = property(lambda self: self.get(C.QLOW_CTX_ISA_MAX),
                       lambda self, v: self.set(C.QLOW_CTX_ISA_MAX, v))
    isa_detected = property(lambda self: self.get(C.QLOW_CTX_ISA_DETECTED))


def param_bounds(key):
    """(min, max, default, is_float) of a parameter key; QlowError(QLOW_E_PARAM) if unknown."""
    lo, hi, de, fl = ctypes.c_double(), ctypes.c_double(), ctypes.c_double(), ctypes.c_int()
    lib.qlow_param_bounds(key, ctypes.byref(lo), ctypes.byref(hi), ctypes.byref(de), ctypes.byref(fl))
    return lo.value, hi.value, de.value, bool(fl.value)


class Params(Handle):
    """qlow_params: typed key/value settings. Params({KEY: value, ...}) or params[KEY] = value; the
    key's own type (from qlow_param_bounds) picks set_int or set_float."""

    _destroy = "qlow_params_destroy"

    def __init__(self, values=None, allocator=None, **_):
        aptr, keep = allocator_arg(allocator)
        out = ctypes.c_void_p()
        lib.qlow_params_create(aptr, ctypes.byref(out))
        super().__init__(out, [keep])
        for key, value in (values or {}).items():
            self[key] = value

    def __setitem__(self, key, value):
        if param_bounds(key)[3]:
            lib.qlow_params_set_float(self.handle, key, float(value))
        else:
            if isinstance(value, float) and not value.is_integer():
                raise TypeError("parameter %d takes an integer" % key)
            lib.qlow_params_set_int(self.handle, key, int(value))

    def __getitem__(self, key):
        if param_bounds(key)[3]:
            v = ctypes.c_double()
            lib.qlow_params_get_float(self.handle, key, ctypes.byref(v))
        else:
            v = ctypes.c_int64()
            lib.qlow_params_get_int(self.handle, key, ctypes.byref(v))
        return v.value

    def reset(self):
        lib.qlow_params_reset(self.handle)


def params_arg(params):
    """Accept None, a Params, or a plain dict (turned into a temporary Params)."""
    if params is None or isinstance(params, Params):
        return params
    if isinstance(params, dict):
        return Params(params)
    raise TypeError("params must be a qlow.Params, a dict or None")
