"""libqlow from Python, through ctypes (standard library only; numpy used when present).

The shared library is found through $QLOW_LIBRARY, then the build tree's lib/ next to this package's
parent, then the system's library path. Importing checks the library's ABI version and its
sizeof(qlow_view) against this wrapper and refuses a mismatch with QlowAbiError.
"""
from ._lib import ABI_VERSION, QlowAbiError, QlowError, View
from .constants import *  # noqa: F401,F403
from .core import (Ctx, CountingAllocator, Params, abi_version, bf16_to_fp32, fp16_to_fp32,
                   fp32_to_bf16, fp32_to_fp16, has_feature, library_path, param_bounds, status_string,
                   version, version_number)
from ._buffers import describe, have_numpy
