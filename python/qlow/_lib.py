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


# Callbacks. Buffers arrive as raw addresses (c_void_p); the wrappers turn them into arrays.
HVP_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)
GRAD_FN = HVP_FN  # same shape: (user, theta, grad, n)
WRITE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
IMPORTANCE_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_void_p)

# Short names for the table. STATUS marks a qlow_status result: those functions get the errcheck that
# raises QlowError instead of returning a failing code.
STATUS = "qlow_status"
_i32 = ctypes.c_int32
_i64 = ctypes.c_int64
_u16 = ctypes.c_uint16
_u32 = ctypes.c_uint32
_uns = ctypes.c_uint
_int = ctypes.c_int
_f32 = ctypes.c_float
_f64 = ctypes.c_double
_sz = ctypes.c_size_t
_vp = ctypes.c_void_p        # handles and data buffers (addresses)
_str = ctypes.c_char_p
_pvp = ctypes.POINTER(ctypes.c_void_p)
_pstr = ctypes.POINTER(ctypes.c_char_p)
_pi32 = ctypes.POINTER(ctypes.c_int32)
_pi64 = ctypes.POINTER(ctypes.c_int64)
_pu64 = ctypes.POINTER(ctypes.c_uint64)
_pf64 = ctypes.POINTER(ctypes.c_double)
_psz = ctypes.POINTER(ctypes.c_size_t)
_pint = ctypes.POINTER(ctypes.c_int)
_pf32 = ctypes.POINTER(ctypes.c_float)
_view = ctypes.POINTER(View)
_alloc = ctypes.POINTER(Allocator)

# The one declaration table: (name, argtypes, restype). Handles are plain void pointers (opaque structs
# are never mirrored); float/double/byte arrays are passed as addresses.
FUNCTIONS = [
    # versions and ABI
    ("qlow_version_number", [], _uns),
    ("qlow_version_string", [], _str),
    ("qlow_abi_version", [], _uns),
    ("qlow_abi_check", [_uns, _sz], STATUS),
    ("qlow_status_string", [_i32], _str),
    ("qlow_sizeof_view", [], _sz),
    ("qlow_view_init", [_view, _i32, _i32, _pi64, _vp], STATUS),
    ("qlow_view_init_2d", [_view, _i32, _i64, _i64, _vp], STATUS),
    ("qlow_has_feature", [_int], _int),
    # fp16 / bf16
    ("qlow_fp32_to_fp16", [_f32], _u16),
    ("qlow_fp16_to_fp32", [_u16], _f32),
    ("qlow_fp32_to_bf16", [_f32], _u16),
    ("qlow_bf16_to_fp32", [_u16], _f32),
    # context
    ("qlow_ctx_create", [_alloc, _pvp], STATUS),
    ("qlow_ctx_destroy", [_vp], None),
    ("qlow_ctx_estimate_size", [], _sz),
    ("qlow_ctx_init_static", [_vp, _sz, _pvp], STATUS),
    ("qlow_ctx_set_int", [_vp, _i32, _i64], STATUS),
    ("qlow_ctx_get_int", [_vp, _i32, _pi64], STATUS),
    # parameters
    ("qlow_params_create", [_alloc, _pvp], STATUS),
    ("qlow_params_destroy", [_vp], None),
    ("qlow_params_reset", [_vp], None),
    ("qlow_params_set_int", [_vp, _i32, _i64], STATUS),
    ("qlow_params_set_float", [_vp, _i32, _f64], STATUS),
    ("qlow_params_get_int", [_vp, _i32, _pi64], STATUS),
    ("qlow_params_get_float", [_vp, _i32, _pf64], STATUS),
    ("qlow_param_bounds", [_i32, _pf64, _pf64, _pf64, _pint], STATUS),
    # quantization
    ("qlow_quantize", [_vp, _vp, _view, _vp, _pvp], STATUS),
    ("qlow_quantize_workspace_size", [_vp, _vp, _i64, _i64, _psz, _psz], STATUS),
    ("qlow_quantize_to_buffer", [_vp, _vp, _view, _vp, _vp, _sz, _vp, _sz], STATUS),
    # packed matrices
    ("qlow_format_name", [_i32], _str),
    ("qlow_format_bits_per_weight", [_i32, _i64, _i64, _i64, _i64, _u32, _i64, _pf64], STATUS),
    ("qlow_qmatrix_destroy", [_vp], None),
    ("qlow_qmatrix_format", [_vp, _pi32], STATUS),
    ("qlow_qmatrix_shape", [_vp, _pi64, _pi64], STATUS),
    ("qlow_qmatrix_bytes", [_vp, _psz], STATUS),
    ("qlow_qmatrix_bits_per_weight", [_vp, _pf64], STATUS),
    ("qlow_qmatrix_dequantize", [_vp, _i64, _i64, _vp, _sz], STATUS),
    ("qlow_qmatrix_serialized_size", [_vp, _psz], STATUS),
    ("qlow_qmatrix_serialize", [_vp, _vp, _sz], STATUS),
    ("qlow_qmatrix_wrap", [_vp, _vp, _sz, _pvp], STATUS),
    ("qlow_qmatrix_wrap_size", [_vp, _sz, _psz], STATUS),
    ("qlow_qmatrix_wrap_static", [_vp, _sz, _vp, _sz, _pvp], STATUS),
    # kernels
    ("qlow_gemm_workspace_size", [_vp, _i64, _i32, _psz], STATUS),
    ("qlow_gemm_ws", [_vp, _vp, _vp, _i64, _vp, _vp, _sz], STATUS),
    ("qlow_gemm_act8_ws", [_vp, _vp, _vp, _i64, _vp, _vp, _sz], STATUS),
    ("qlow_gemv_ws", [_vp, _vp, _vp, _vp, _vp, _sz], STATUS),
    ("qlow_gemm", [_vp, _vp, _vp, _i64, _vp], STATUS),
    ("qlow_gemm_act8", [_vp, _vp, _vp, _i64, _vp], STATUS),
    ("qlow_gemv", [_vp, _vp, _vp, _vp], STATUS),
    # GPTQ
    ("qlow_gptq_workspace_size", [_vp, _i64, _i64, _psz], STATUS),
    ("qlow_gptq_quantize_ws", [_vp, _vp, _view, _vp, _vp, _sz, _pvp], STATUS),
    ("qlow_gptq_quantize", [_vp, _vp, _view, _vp, _pvp], STATUS),
    ("qlow_gptq_fake_quantize_ws", [_vp, _vp, _view, _vp, _vp, _sz, _vp, _i64, _pf64], STATUS),
    ("qlow_gptq_fake_quantize", [_vp, _vp, _view, _vp, _vp, _i64, _pf64], STATUS),
    # PTQ1.61: activation statistics, salient mask, layer quantization, scale optimizer
    ("qlow_actstats_create", [_alloc, _i64, _pvp], STATUS),
    ("qlow_actstats_destroy", [_vp], None),
    ("qlow_actstats_update", [_vp, _view], STATUS),
    ("qlow_actstats_merge", [_vp, _vp], STATUS),
    ("qlow_actstats_get", [_vp, _i32, _vp, _i64, _pi64], STATUS),
    ("qlow_mask_select", [_vp, _i64, _f64, _vp, _pi64], STATUS),
    ("qlow_actstats_mask", [_vp, _vp, _vp, _pi64], STATUS),
    ("qlow_mask_permutation", [_vp, _i64, _vp, _pi64], STATUS),
    ("qlow_ptq161_bits", [_i64, _i64, _i64, _vp], STATUS),
    ("qlow_ptq161_quantize_f32", [_vp, _vp, _view, _view, _vp, _vp, _vp, _vp], STATUS),
    ("qlow_ptq161_quantize_gram_f32", [_vp, _vp, _view, _view, _vp, _vp, _vp, _vp], STATUS),
    ("qlow_ptq161_quantize", [_vp, _vp, _view, _view, _vp, _pvp, _vp], STATUS),
    ("qlow_scaleopt_create", [_vp, _vp, _pvp], STATUS),
    ("qlow_scaleopt_destroy", [_vp], None),
    ("qlow_scaleopt_add_linear", [_vp, _view, _vp, _pi32], STATUS),
    ("qlow_scaleopt_weight", [_vp, _i32, _vp], STATUS),
    ("qlow_scaleopt_grad", [_vp, _i32, _view], STATUS),
    ("qlow_scaleopt_grad_dy", [_vp, _i32, _view, _view], STATUS),
    ("qlow_scaleopt_step", [_vp], STATUS),
    ("qlow_scaleopt_scales", [_vp, _i32, _vp, _vp, _vp, _vp], STATUS),
    ("qlow_scaleopt_quantize", [_vp, _i32, _pvp], STATUS),
    # Hessian accumulator
    ("qlow_hessian_estimate_size", [_i64, _i32, _psz], STATUS),
    ("qlow_hessian_create", [_alloc, _i64, _i32, _pvp], STATUS),
    ("qlow_hessian_init_static", [_vp, _sz, _i64, _i32, _pvp], STATUS),
    ("qlow_hessian_destroy", [_vp], None),
    ("qlow_hessian_reset", [_vp], STATUS),
    ("qlow_hessian_info", [_vp, _pi64, _pi32, _pi64], STATUS),
    ("qlow_hessian_add", [_vp, _vp, _view], STATUS),
    ("qlow_hessian_merge", [_vp, _vp], STATUS),
    ("qlow_hessian_diag", [_vp, _vp, _i64], STATUS),
    ("qlow_hessian_col_mean", [_vp, _vp, _i64], STATUS),
    ("qlow_hessian_trace", [_vp, _pf64], STATUS),
    ("qlow_hessian_matrix", [_vp, _f64, _vp, _i64], STATUS),
    ("qlow_hessian_cholesky_workspace_size", [_i64, _psz], STATUS),
    ("qlow_hessian_cholesky_ws", [_vp, _vp, _i32, _f64, _vp, _i64, _vp, _sz], STATUS),
    ("qlow_hessian_cholesky", [_vp, _vp, _i32, _f64, _vp, _i64], STATUS),
    ("qlow_hessian_top_eigen", [_vp, _vp, _f64, _i32, _vp, _sz, _pf64, _pi32], STATUS),
    ("qlow_hessian_lanczos", [_vp, _vp, _i32, _i32, _vp, _sz, _vp], STATUS),
    ("qlow_hessian_save_size", [_vp, _psz], STATUS),
    ("qlow_hessian_save", [_vp, _vp, _sz, _psz], STATUS),
    ("qlow_hessian_load", [_alloc, _vp, _sz, _pvp], STATUS),
    # Hessian-vector products from a caller callback
    ("qlow_spectral_workspace_size", [_i64, _i32, _psz], STATUS),
    ("qlow_hvp_top_eigen", [_vp, HVP_FN, _vp, _i64, _f64, _i32, _vp, _sz, _pf64, _pi32], STATUS),
    ("qlow_hvp_lanczos", [_vp, HVP_FN, _vp, _i64, _i32, _i32, _vp, _sz, _vp], STATUS),
    ("qlow_hvp_trace", [_vp, HVP_FN, _vp, _i64, _i32, _f64, _vp, _sz, _pf64, _pf64, _pi32], STATUS),
    ("qlow_fd_hvp_create", [_alloc, GRAD_FN, _vp, _vp, _i64, _f64, _pvp], STATUS),
    ("qlow_fd_hvp_destroy", [_vp], None),
    ("qlow_fd_hvp_apply", [_vp, _vp, _vp, _i64], _int),
    # sensitivity and bit allocation
    ("qlow_plan_qbert_omega", [_vp, _i32, _pf64], STATUS),
    ("qlow_plan_hawq_v2", [_f64, _i64, _view, _view, _pf64], STATUS),
    ("qlow_plan_diag_weighted", [_vp, _i64, _view, _view, _pf64], STATUS),
    ("qlow_plan_layer_error_workspace_size", [_vp, _i64, _i64, _psz], STATUS),
    ("qlow_plan_layer_error", [_vp, _vp, _view, _view, _vp, _sz, _pf64], STATUS),
    ("qlow_plan_solve_workspace_size", [_i32, _i32, _vp, _psz], STATUS),
    ("qlow_plan_solve_ws", [_vp, _i32, _i32, _vp, _vp, _vp, _f64, _vp, _pf64, _pf64, _vp, _sz], STATUS),
    ("qlow_plan_solve", [_alloc, _vp, _i32, _i32, _vp, _vp, _vp, _f64, _vp, _pf64, _pf64], STATUS),
    ("qlow_plan_qbert_rule", [_i32, _vp, _f64, _i32, _i32, _vp], STATUS),
    # models (llama2.c, safetensors)
    ("qlow_model_open", [_str, _vp, _alloc, _pvp], STATUS),
    ("qlow_model_open_buffer", [_vp, _sz, _vp, _alloc, _pvp], STATUS),
    ("qlow_model_close", [_vp], None),
    ("qlow_model_get_int", [_vp, _i32, _pi64], STATUS),
    ("qlow_model_get_float", [_vp, _i32, _pf64], STATUS),
    ("qlow_model_set_int", [_vp, _i32, _i64], STATUS),
    ("qlow_model_set_float", [_vp, _i32, _f64], STATUS),
    ("qlow_model_tensor_count", [_vp, _psz], STATUS),
    ("qlow_model_tensor_find", [_vp, _str, _psz], STATUS),
    ("qlow_model_tensor_info", [_vp, _sz, _pstr, _pi32, _pi32, _pi64], STATUS),
    ("qlow_model_tensor_view", [_vp, _sz, _view], STATUS),
    ("qlow_model_tensor_read_f32", [_vp, _sz, _vp, _sz], STATUS),
    ("qlow_model_tensor_release", [_vp, _sz], STATUS),
    ("qlow_model_sha256", [_vp, _vp], STATUS),
    ("qlow_model_meta_count", [_vp, _psz], STATUS),
    ("qlow_model_meta_get", [_vp, _sz, _pstr, _pstr], STATUS),
    # tokenizer
    ("qlow_tokenizer_open", [_str, _i32, _alloc, _pvp], STATUS),
    ("qlow_tokenizer_open_buffer", [_vp, _sz, _i32, _alloc, _pvp], STATUS),
    ("qlow_tokenizer_close", [_vp], None),
    ("qlow_tokenizer_vocab_size", [_vp], _i32),
    ("qlow_tokenizer_token", [_vp, _i32, _pstr, _psz, _pf32], STATUS),
    ("qlow_tokenizer_lookup", [_vp, _vp, _sz, _pi32], STATUS),
    ("qlow_tokenizer_encode_workspace_size", [_vp, _sz, _psz], STATUS),
    ("qlow_tokenizer_encode_wksp", [_vp, _vp, _sz, _int, _int, _vp, _sz, _psz, _vp, _sz], STATUS),
    ("qlow_tokenizer_encode", [_vp, _vp, _sz, _int, _int, _vp, _sz, _psz], STATUS),
    ("qlow_tokenizer_decode_piece", [_vp, _i32, _i32, _pvp, _psz], STATUS),
    ("qlow_tokenizer_decode", [_vp, _vp, _sz, _vp, _sz, _psz], STATUS),
    # export: GGUF and ggml block types, dequantized checkpoints (declared; no Python helpers yet)
    ("qlow_ggml_type_name", [_i32], _str),
    ("qlow_ggml_type_from_name", [_str, _pi32], STATUS),
    ("qlow_ggml_type_block", [_i32, _pi64, _psz], STATUS),
    ("qlow_ggml_fallback_type", [_i32, _i64, _pi32], STATUS),
    ("qlow_ggml_quantize_row", [_i32, _vp, _i64, _vp, _i32, _i32, _vp, _sz], STATUS),
    ("qlow_ggml_dequantize_row", [_i32, _vp, _sz, _i64, _vp], STATUS),
    ("qlow_export_gguf", [_vp, _vp, _vp, _vp, _vp, _i32, IMPORTANCE_FN, _vp, _str], STATUS),
    ("qlow_export_gguf_callback", [_vp, _vp, _vp, _vp, _vp, _i32, IMPORTANCE_FN, _vp, WRITE_FN, _vp], STATUS),
    ("qlow_export_dequant", [_vp, _vp, _vp, _vp, _str], STATUS),
    ("qlow_export_dequant_callback", [_vp, _vp, _vp, _vp, WRITE_FN, _vp], STATUS),
    # .qlow files
    ("qlow_qfile_writer_open", [_str, _vp, _alloc, _pvp], STATUS),
    ("qlow_qfile_writer_open_callback", [WRITE_FN, _vp, _vp, _alloc, _pvp], STATUS),
    ("qlow_qfile_writer_open_buffer", [_vp, _sz, _vp, _alloc, _pvp], STATUS),
    ("qlow_qfile_writer_add_dense", [_vp, _str, _view], STATUS),
    ("qlow_qfile_writer_add_packed", [_vp, _str, _i32, _i32, _i64, _i64, _vp, _sz], STATUS),
    ("qlow_qfile_writer_add_qmatrix", [_vp, _str, _vp], STATUS),
    ("qlow_qfile_writer_set_string", [_vp, _str, _str], STATUS),
    ("qlow_qfile_writer_set_int", [_vp, _str, _i64], STATUS),
    ("qlow_qfile_writer_set_float", [_vp, _str, _f64], STATUS),
    ("qlow_qfile_writer_set_bytes", [_vp, _str, _vp, _sz], STATUS),
    ("qlow_qfile_writer_set_model", [_vp, _vp], STATUS),
    ("qlow_qfile_writer_finish", [_vp], STATUS),
    ("qlow_qfile_writer_bytes", [_vp, _pu64], STATUS),
    ("qlow_qfile_writer_destroy", [_vp], None),
    ("qlow_qfile_open", [_str, _vp, _alloc, _pvp], STATUS),
    ("qlow_qfile_open_buffer", [_vp, _sz, _vp, _alloc, _pvp], STATUS),
    ("qlow_qfile_close", [_vp], None),
    ("qlow_qfile_tensor_count", [_vp, _psz], STATUS),
    ("qlow_qfile_tensor_find", [_vp, _str, _psz], STATUS),
    ("qlow_qfile_tensor_info", [_vp, _sz, _pstr, _pi32, _pi32, _pi32, _pi32, _pi64], STATUS),
    ("qlow_qfile_tensor_data", [_vp, _sz, _pvp, _psz], STATUS),
    ("qlow_qfile_tensor_view", [_vp, _sz, _view], STATUS),
    ("qlow_qfile_tensor_qmatrix", [_vp, _sz, _vp, _pvp], STATUS),
    ("qlow_qfile_tensor_verify", [_vp, _sz], STATUS),
    ("qlow_qfile_meta_count", [_vp, _psz], STATUS),
    ("qlow_qfile_meta_info", [_vp, _sz, _pstr, _pi32, _pvp, _psz], STATUS),
    ("qlow_qfile_meta_find", [_vp, _str, _psz], STATUS),
    ("qlow_qfile_meta_get_string", [_vp, _str, _pstr], STATUS),
    ("qlow_qfile_meta_get_int", [_vp, _str, _pi64], STATUS),
    ("qlow_qfile_meta_get_float", [_vp, _str, _pf64], STATUS),
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
        fn.restype = ctypes.c_int32 if restype == STATUS else restype
    errcheck = _make_errcheck(lib)
    for name, _, restype in table:
        if restype == STATUS:
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
