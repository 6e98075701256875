"""Loading libqlow and declaring its C functions.

Everything that touches the raw ctypes library lives here: where the shared library is looked for, the
one table that declares every C function (name, argument types, result type), the errcheck that turns a
failing qlow_status into QlowError, the mirror of the one public struct that crosses the ABI by pointer
(qlow_view) plus the allocator hook struct, and the load-time ABI check.
"""
import ctypes
import ctypes.util
import os
import sys

# The ABI this wrapper was written against (QLOW_ABI_VERSION in include/qlow.h).
ABI_VERSION = 1

QLOW_VIEW_MAX_DIMS = 4


class QlowError(Exception):
    """A libqlow call returned a failing qlow_status.

    `code` is the negative status, `message` libqlow's own description (qlow_status_string)."""

    def __init__(self, code, message, function=None):
        self.code = int(code)
        self.message = message
        self.function = function
        where = " in %s" % function if function else ""
        super().__init__("libqlow error %d%s: %s" % (self.code, where, message))


class QlowAbiError(ImportError):
    """The loaded library does not match the ABI this wrapper mirrors; nothing is called past the check."""


class View(ctypes.Structure):
    """Mirror of qlow_view. Its size is compared with qlow_sizeof_view() when the library loads."""

    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("dtype", ctypes.c_int32),
        ("ndim", ctypes.c_int32),
        ("flags", ctypes.c_int32),
        ("data", ctypes.c_void_p),
        ("shape", ctypes.c_int64 * QLOW_VIEW_MAX_DIMS),
        ("stride_bytes", ctypes.c_int64 * QLOW_VIEW_MAX_DIMS),
        ("reserved", ctypes.c_int64 * 2),
    ]


ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


class Allocator(ctypes.Structure):
    """Mirror of qlow_allocator (copied by value into every C object that takes one)."""

    _fields_ = [("alloc", ALLOC_FN), ("free", FREE_FN), ("user", ctypes.c_void_p)]


# HVP callback of the Hessian API: status (*)(void *user, const float *v, float *hv, int64 n).
HVP_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                          ctypes.POINTER(ctypes.c_float), ctypes.c_int64)

# Short names for the table.
_st = ctypes.c_int32          # qlow_status; marks the functions that get the errcheck
_i32 = ctypes.c_int32
_i64 = ctypes.c_int64
_u16 = ctypes.c_uint16
_u32 = ctypes.c_uint32
_uns = ctypes.c_uint
_int = ctypes.c_int
_f32 = ctypes.c_float
_f64 = ctypes.c_double
_sz = ctypes.c_size_t
_vp = ctypes.c_void_p
_str = ctypes.c_char_p
_pvp = ctypes.POINTER(ctypes.c_void_p)
_pi64 = ctypes.POINTER(ctypes.c_int64)
_pf32 = ctypes.POINTER(ctypes.c_float)
_pf64 = ctypes.POINTER(ctypes.c_double)
_psz = ctypes.POINTER(ctypes.c_size_t)
_pint = ctypes.POINTER(ctypes.c_int)
_view = ctypes.POINTER(View)
_alloc = ctypes.POINTER(Allocator)

# The one declaration table: (name, argtypes, restype). A restype of _st means "returns qlow_status":
# those functions raise QlowError instead of returning a failing code. Handles are plain void pointers
# (opaque structs are never mirrored).
FUNCTIONS = [
    # versions and ABI
    ("qlow_version_number", [], _uns),
    ("qlow_version_string", [], _str),
    ("qlow_abi_version", [], _uns),
    ("qlow_abi_check", [_uns, _sz], _st),
    ("qlow_status_string", [_st], _str),
    ("qlow_sizeof_view", [], _sz),
    ("qlow_view_init", [_view, _i32, _i32, _pi64, _vp], _st),
    ("qlow_view_init_2d", [_view, _i32, _i64, _i64, _vp], _st),
    ("qlow_has_feature", [_int], _int),
    # fp16 / bf16
    ("qlow_fp32_to_fp16", [_f32], _u16),
    ("qlow_fp16_to_fp32", [_u16], _f32),
    ("qlow_fp32_to_bf16", [_f32], _u16),
    ("qlow_bf16_to_fp32", [_u16], _f32),
    # context
    ("qlow_ctx_create", [_alloc, _pvp], _st),
    ("qlow_ctx_destroy", [_vp], None),
    ("qlow_ctx_estimate_size", [], _sz),
    ("qlow_ctx_init_static", [_vp, _sz, _pvp], _st),
    ("qlow_ctx_set_int", [_vp, _i32, _i64], _st),
    ("qlow_ctx_get_int", [_vp, _i32, _pi64], _st),
    # parameters
    ("qlow_params_create", [_alloc, _pvp], _st),
    ("qlow_params_destroy", [_vp], None),
    ("qlow_params_reset", [_vp], None),
    ("qlow_params_set_int", [_vp, _i32, _i64], _st),
    ("qlow_params_set_float", [_vp, _i32, _f64], _st),
    ("qlow_params_get_int", [_vp, _i32, _pi64], _st),
    ("qlow_params_get_float", [_vp, _i32, _pf64], _st),
    ("qlow_param_bounds", [_i32, _pf64, _pf64, _pf64, _pint], _st),
]

_SONAMES = {
    "linux": ["libqlow.so.%d" % ABI_VERSION, "libqlow.so"],
    "darwin": ["libqlow.%d.dylib" % ABI_VERSION, "libqlow.dylib"],
    "win32": ["qlow.dll", "libqlow.dll"],
}


def _platform_names():
    for key, names in _SONAMES.items():
        if sys.platform.startswith(key):
            return names
    return _SONAMES["linux"]


def candidate_paths():
    """Where the library is looked for, in order: $QLOW_LIBRARY, the build tree, then the system."""
    env = os.environ.get("QLOW_LIBRARY")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    build_lib = os.path.normpath(os.path.join(here, "..", "..", "lib"))
    found = [os.path.join(build_lib, n) for n in _platform_names()]
    found = [p for p in found if os.path.exists(p)]
    system = ctypes.util.find_library("qlow")
    found += [system] if system else []
    return found + _platform_names()


def _open(paths):
    errors = []
    for path in paths:
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            errors.append("%s: %s" % (path, exc))
    raise OSError("libqlow not found; set QLOW_LIBRARY to the shared library's path. Tried:\n  "
                  + "\n  ".join(errors))


def _make_errcheck(lib):
    status_string = lib.qlow_status_string

    def errcheck(result, func, args):
        if result != 0:
            raise QlowError(result, status_string(result).decode("utf-8", "replace"), func.__name__)
        return result

    return errcheck


def declare(lib, table=FUNCTIONS):
    """Set argtypes/restype on every function of `table`; a missing one means wrapper and library
    disagree, reported as QlowAbiError naming the functions."""
    missing = [name for name, _, _ in table if not hasattr(lib, name)]
    if missing:
        raise QlowAbiError("library lacks functions this wrapper declares: " + ", ".join(missing))
    for name, argtypes, restype in table:
        fn = getattr(lib, name)
        fn.argtypes = argtypes
        fn.restype = restype
    errcheck = _make_errcheck(lib)
    for name, _, restype in table:
        if restype is _st and name != "qlow_status_string":
            getattr(lib, name).errcheck = errcheck
    return lib


def check_abi(lib, expected_abi=ABI_VERSION, view_size=None):
    """Refuse a library whose ABI version or sizeof(qlow_view) differs from this wrapper's."""
    view_size = ctypes.sizeof(View) if view_size is None else view_size
    abi = lib.qlow_abi_version()
    lib_view = lib.qlow_sizeof_view()
    if abi != expected_abi or lib_view != view_size:
        raise QlowAbiError(
            "libqlow ABI mismatch: library has ABI %d with sizeof(qlow_view) = %d, this wrapper expects "
            "ABI %d with sizeof(qlow_view) = %d; rebuild or point QLOW_LIBRARY at a matching library"
            % (abi, lib_view, expected_abi, view_size))
    try:
        lib.qlow_abi_check(expected_abi, view_size)
    except QlowError as exc:
        raise QlowAbiError("qlow_abi_check refused this wrapper: %s" % exc.message) from None


def load(paths=None, expected_abi=ABI_VERSION):
    """Open, check and declare the library. The ABI is checked with only the three query functions
    declared, before anything else is bound."""
    lib, path = _open(candidate_paths() if paths is None else paths)
    probe = [f for f in FUNCTIONS if f[0] in ("qlow_abi_version", "qlow_sizeof_view", "qlow_abi_check",
                                              "qlow_status_string")]
    for name, argtypes, restype in probe:
        if not hasattr(lib, name):
            raise QlowAbiError("%s is not libqlow (no %s)" % (path, name))
    declare(lib, probe)
    check_abi(lib, expected_abi)
    declare(lib)
    lib._qlow_path = path
    return lib


lib = load()
