"""libqlow from Python, through ctypes (standard library only; numpy used when present).

The shared library is found through $QLOW_LIBRARY, then the build tree's lib/ next to this package's
parent directory, then the system's library path. Importing checks the library's ABI version and its
sizeof(qlow_view) against this wrapper and refuses a mismatch with QlowAbiError.

The user journey:
    model = qlow.Model("data/stories260K.bin")                 # load weights
    W = model.read("layers.0.attention.wq")
    h = qlow.Hessian(cols=W_cols); h.add(X)                   # calibration activations
    qm = qlow.quantize(W, bits=4, group_cols=32, importance=h.diag())
    y = qm.gemv(x)                                             # packed GEMV
    with qlow.QFileWriter("model.qlow") as w: w.add_packed("wq", qm); w.finish()
    qm2 = qlow.QFile("model.qlow").packed("wq")
"""
from ._lib import ABI_VERSION, QlowAbiError, QlowError, View
from .constants import *  # noqa: F401,F403
from .core import (Ctx, CountingAllocator, Params, abi_version, bf16_to_fp32, fp16_to_fp32,
                   fp32_to_bf16, fp32_to_fp16, has_feature, library_path, param_bounds, status_string,
                   version, version_number)
from ._buffers import describe, have_numpy
from .quant import (QMatrix, default_ctx, format_bits_per_weight, format_name, gptq_fake_quantize, gptq_quantize, quantize,
                    quantize_serialized)
from .hessian import FdHvp, Hessian, hvp_lanczos, hvp_top_eigen, hvp_trace
from . import plan, ptq161
from .io import Model, QFile, QFileWriter, Tokenizer
