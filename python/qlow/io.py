"""Model checkpoints (llama2.c, safetensors), the llama2.c tokenizer, and .qlow files (src/io)."""
import array
import ctypes
import weakref

from . import _buffers as B
from . import constants as C
from ._handle import Handle
from ._lib import WRITE_FN, View, lib
from .core import allocator_arg, params_arg
from .quant import QMatrix, ctx_handle

_DTYPE_FORMAT = {C.QLOW_DTYPE_F32: "f", C.QLOW_DTYPE_F16: "e", C.QLOW_DTYPE_F64: "d", C.QLOW_DTYPE_I8: "b",
                 C.QLOW_DTYPE_U8: "B", C.QLOW_DTYPE_I32: "i", C.QLOW_DTYPE_BF16: "H"}
_NP_DTYPE = {"f": "float32", "e": "float16", "d": "float64", "b": "int8", "B": "uint8", "i": "int32", "H": "uint16"}
MODEL_KEYS = {
    "dim": C.QLOW_MODEL_DIM, "hidden_dim": C.QLOW_MODEL_HIDDEN_DIM, "n_layers": C.QLOW_MODEL_N_LAYERS,
    "n_heads": C.QLOW_MODEL_N_HEADS, "n_kv_heads": C.QLOW_MODEL_N_KV_HEADS,
    "vocab_size": C.QLOW_MODEL_VOCAB_SIZE, "seq_len": C.QLOW_MODEL_SEQ_LEN,
    "shared_classifier": C.QLOW_MODEL_SHARED_CLASSIFIER, "norm_eps": C.QLOW_MODEL_NORM_EPS,
    "rope_theta": C.QLOW_MODEL_ROPE_THETA, "source": C.QLOW_MODEL_SOURCE, "head_dim": C.QLOW_MODEL_HEAD_DIM,
    "qk_hf_order": C.QLOW_MODEL_QK_HF_ORDER,
}
_FLOAT_MODEL_KEYS = (C.QLOW_MODEL_NORM_EPS, C.QLOW_MODEL_ROPE_THETA)
# Code bits stored in a .qlow directory entry per packed format (src/formats/layout.h).
FORMAT_CODE_BITS = {C.QLOW_FORMAT_Q8: 8, C.QLOW_FORMAT_Q4: 4, C.QLOW_FORMAT_Q3: 3, C.QLOW_FORMAT_Q2: 2,
                    C.QLOW_FORMAT_B1: 1, C.QLOW_FORMAT_B2: 1, C.QLOW_FORMAT_T2: 2, C.QLOW_FORMAT_T158: 0,
                    C.QLOW_FORMAT_M161: 0}


def _nbytes(data):
    return data.nbytes if B.is_ndarray(data) else memoryview(data).nbytes


def _array_at(address, fmt, shape, numpy, readonly=True):
    """A zero-copy array over C memory (kept valid by its owner)."""
    count = 1
    for n in shape:
        count *= n
    itemsize = array.array(fmt).itemsize
    raw = (ctypes.c_char * (count * itemsize)).from_address(address) if count else (ctypes.c_char * 0)()
    if numpy and B.have_numpy():
        a = B._np.frombuffer(raw, dtype=_NP_DTYPE[fmt]).reshape(shape)
        if readonly:
            a.flags.writeable = False
        return a
    mv = memoryview(raw).cast("B").cast(fmt, list(shape)) if len(shape) > 1 else memoryview(raw).cast("B").cast(fmt)
    return mv.toreadonly() if readonly else mv


class Model(Handle):
    """A llama2.c or safetensors checkpoint under canonical tensor names (mapped, read lazily)."""

    _destroy = "qlow_model_close"

    def __init__(self, path=None, data=None, params=None, allocator=None, numpy=False):
        aptr, akeep = allocator_arg(allocator)
        p = params_arg(params)
        out = ctypes.c_void_p()
        keep = [akeep, p]
        if data is not None:
            addr, dkeep = B.byte_pointer(data)
            lib.qlow_model_open_buffer(addr, _nbytes(data), p.handle if p else None, aptr, ctypes.byref(out))
            keep.append(dkeep)
        else:
            lib.qlow_model_open(str(path).encode(), p.handle if p else None, aptr, ctypes.byref(out))
        super().__init__(out, keep)
        self.numpy = numpy

    def get(self, key):
        key = MODEL_KEYS.get(key, key)
        if key in _FLOAT_MODEL_KEYS:
            v = ctypes.c_double()
            lib.qlow_model_get_float(self.handle, key, ctypes.byref(v))
        else:
            v = ctypes.c_int64()
            lib.qlow_model_get_int(self.handle, key, ctypes.byref(v))
        return v.value

    def set(self, key, value):
        key = MODEL_KEYS.get(key, key)
        if key in _FLOAT_MODEL_KEYS:
            lib.qlow_model_set_float(self.handle, key, float(value))
        else:
            lib.qlow_model_set_int(self.handle, key, int(value))

    @property
    def config(self):
        out = {}
        for name, key in MODEL_KEYS.items():
            try:
                out[name] = self.get(key)
            except Exception:  # QLOW_E_NOT_FOUND: the file does not say
                pass
        return out

    def __len__(self):
        n = ctypes.c_size_t()
        lib.qlow_model_tensor_count(self.handle, ctypes.byref(n))
        return n.value

    def index(self, name):
        i = ctypes.c_size_t()
        lib.qlow_model_tensor_find(self.handle, name.encode(), ctypes.byref(i))
        return i.value

    def info(self, which):
        """(name, dtype, shape) of a tensor by name or index."""
        idx = self.index(which) if isinstance(which, str) else which
        name, dt, nd = ctypes.c_char_p(), ctypes.c_int32(), ctypes.c_int32()
        shape = (ctypes.c_int64 * C.QLOW_VIEW_MAX_DIMS)()
        lib.qlow_model_tensor_info(self.handle, idx, ctypes.byref(name), ctypes.byref(dt), ctypes.byref(nd), shape)
        return name.value.decode(), dt.value, tuple(shape[:nd.value])

    def names(self):
        return [self.info(i)[0] for i in range(len(self))]

    def read(self, name, out=None):
        """Tensor `name` converted to float32 (a copy; numpy if the model was opened with numpy=True)."""
        idx = self.index(name)
        shape = self.info(idx)[2]
        if out is None:
            out = B.new_float(shape, self.numpy)
        addr, keep, _, n = B.float_array(out, writable=True)
        lib.qlow_model_tensor_read_f32(self.handle, idx, addr, n)
        return out

    def view(self, name):
        """Zero-copy read-only array over the mapped tensor, in its stored dtype."""
        idx = self.index(name)
        v = View()
        lib.qlow_model_tensor_view(self.handle, idx, ctypes.byref(v))
        shape = tuple(v.shape[:v.ndim])
        return _array_at(v.data, _DTYPE_FORMAT[v.dtype], shape, self.numpy)

    def release(self, name):
        """Let the OS drop the resident pages of a processed tensor (mapped files)."""
        lib.qlow_model_tensor_release(self.handle, self.index(name))

    def sha256(self):
        d = (ctypes.c_uint8 * 32)()
        lib.qlow_model_sha256(self.handle, ctypes.cast(d, ctypes.c_void_p))
        return bytes(d)

    def metadata(self):
        n = ctypes.c_size_t()
        lib.qlow_model_meta_count(self.handle, ctypes.byref(n))
        out = {}
        for i in range(n.value):
            k, v = ctypes.c_char_p(), ctypes.c_char_p()
            lib.qlow_model_meta_get(self.handle, i, ctypes.byref(k), ctypes.byref(v))
            out[k.value.decode()] = v.value.decode()
        return out


class Tokenizer(Handle):
    """The llama2.c BPE tokenizer (tok512.bin)."""

    _destroy = "qlow_tokenizer_close"

    def __init__(self, path=None, data=None, vocab_size=0, allocator=None):
        aptr, akeep = allocator_arg(allocator)
        out = ctypes.c_void_p()
        if data is not None:
            addr, dkeep = B.byte_pointer(data)
            lib.qlow_tokenizer_open_buffer(addr, _nbytes(data), vocab_size, aptr, ctypes.byref(out))
        else:
            lib.qlow_tokenizer_open(str(path).encode(), vocab_size, aptr, ctypes.byref(out))
        super().__init__(out, [akeep])

    @property
    def vocab_size(self):
        return lib.qlow_tokenizer_vocab_size(self.handle)

    def token(self, tid):
        """(bytes, score) of token `tid`."""
        p, n, sc = ctypes.c_char_p(), ctypes.c_size_t(), ctypes.c_float()
        lib.qlow_tokenizer_token(self.handle, tid, ctypes.byref(p), ctypes.byref(n), ctypes.byref(sc))
        return ctypes.string_at(p, n.value), sc.value

    def lookup(self, text):
        raw = text.encode() if isinstance(text, str) else bytes(text)
        tid = ctypes.c_int32()
        lib.qlow_tokenizer_lookup(self.handle, ctypes.c_char_p(raw), len(raw), ctypes.byref(tid))
        return tid.value

    def encode(self, text, bos=True, eos=False, workspace=False):
        raw = text.encode() if isinstance(text, str) else bytes(text)
        cap = len(raw) + 3
        toks = array.array("i", bytes(4 * cap))
        n = ctypes.c_size_t()
        taddr = ctypes.c_void_p(toks.buffer_info()[0])
        if workspace:
            need = ctypes.c_size_t()
            lib.qlow_tokenizer_encode_workspace_size(self.handle, len(raw), ctypes.byref(need))
            mem = ctypes.create_string_buffer(need.value or 1)
            lib.qlow_tokenizer_encode_wksp(self.handle, ctypes.c_char_p(raw), len(raw), int(bos), int(eos), taddr,
                                           cap, ctypes.byref(n), ctypes.addressof(mem), need.value)
        else:
            lib.qlow_tokenizer_encode(self.handle, ctypes.c_char_p(raw), len(raw), int(bos), int(eos), taddr, cap,
                                      ctypes.byref(n))
        return list(toks[:n.value])

    def decode_bytes(self, tokens):
        taddr, tkeep = B.typed_array("i", tokens)
        cap = 64
        while True:
            buf = ctypes.create_string_buffer(cap)
            n = ctypes.c_size_t()
            try:
                lib.qlow_tokenizer_decode(self.handle, taddr, len(tkeep), ctypes.addressof(buf), cap, ctypes.byref(n))
                return buf.raw[:n.value]
            except Exception as exc:
                if getattr(exc, "code", None) != C.QLOW_E_BUFFER_TOO_SMALL:
                    raise
                cap *= 4

    def decode(self, tokens):
        return self.decode_bytes(tokens).decode("utf-8", "replace")

    def decode_piece(self, prev, tid):
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        lib.qlow_tokenizer_decode_piece(self.handle, prev, tid, ctypes.byref(p), ctypes.byref(n))
        return ctypes.string_at(p, n.value) if n.value else b""


class QFileWriter(Handle):
    """Writes a .qlow file to `path`, into memory (capacity=...), or through `callback(bytes)`.
    Tensors are streamed as added; finish() completes the file."""

    _destroy = "qlow_qfile_writer_destroy"

    def __init__(self, path=None, capacity=None, callback=None, params=None, allocator=None):
        aptr, akeep = allocator_arg(allocator)
        p = params_arg(params)
        ph = p.handle if p else None
        out = ctypes.c_void_p()
        keep = [akeep, p]
        self._buffer = None
        self._error = None
        if path is not None:
            lib.qlow_qfile_writer_open(str(path).encode(), ph, aptr, ctypes.byref(out))
        elif capacity is not None:
            self._buffer = ctypes.create_string_buffer(capacity)
            lib.qlow_qfile_writer_open_buffer(ctypes.addressof(self._buffer), capacity, ph, aptr, ctypes.byref(out))
        elif callback is not None:
            def write(user, data, size):
                try:
                    callback(ctypes.string_at(data, size))
                    return 0
                except BaseException as exc:  # noqa: B902 - reported as QLOW_E_CALLBACK
                    self._error = exc
                    return 1
            cb = WRITE_FN(write)
            keep.append(cb)
            try:
                lib.qlow_qfile_writer_open_callback(cb, None, ph, aptr, ctypes.byref(out))
            except Exception as exc:
                if self._error is not None:
                    raise self._error from exc
                raise
        else:
            raise TypeError("give a path, a capacity or a callback")
        super().__init__(out, keep)

    def _call(self, fn, *args):
        try:
            fn(self.handle, *args)
        except Exception as exc:
            if self._error is not None:
                raise self._error from exc
            raise

    def add_dense(self, name, data):
        d = B.describe(data, ndim=0, dtypes=("f", "e", "d", "b", "B", "i"))
        self._call(lib.qlow_qfile_writer_add_dense, name.encode(), d.ptr)

    def add_qmatrix(self, name, qmatrix):
        """Append a packed matrix (qlow_qfile_writer_add_qmatrix)."""
        self._call(lib.qlow_qfile_writer_add_qmatrix, name.encode(), qmatrix.handle)

    def add_packed(self, name, qmatrix):
        """Append a packed matrix from its serialized bytes (qlow_qfile_writer_add_packed)."""
        raw = qmatrix.serialize()
        addr, keep = B.byte_pointer(raw)
        rows, cols = qmatrix.shape
        fmt = qmatrix.format
        self._call(lib.qlow_qfile_writer_add_packed, name.encode(), fmt, FORMAT_CODE_BITS.get(fmt, 0), rows,
                   cols, addr, len(raw))

    def set_meta(self, key, value):
        k = key.encode()
        if isinstance(value, str):
            self._call(lib.qlow_qfile_writer_set_string, k, value.encode())
        elif isinstance(value, bool) or isinstance(value, int):
            self._call(lib.qlow_qfile_writer_set_int, k, int(value))
        elif isinstance(value, float):
            self._call(lib.qlow_qfile_writer_set_float, k, value)
        else:
            addr, keep = B.byte_pointer(value)
            self._call(lib.qlow_qfile_writer_set_bytes, k, addr, _nbytes(value))

    def set_model(self, model):
        self._call(lib.qlow_qfile_writer_set_model, model.handle)

    def finish(self):
        self._call(lib.qlow_qfile_writer_finish)
        return self.nbytes

    @property
    def nbytes(self):
        n = ctypes.c_uint64()
        lib.qlow_qfile_writer_bytes(self.handle, ctypes.byref(n))
        return n.value

    def getvalue(self):
        """The bytes written so far (memory writers only)."""
        if self._buffer is None:
            raise TypeError("not a memory writer")
        return self._buffer.raw[:self.nbytes]


class QFile(Handle):
    """A .qlow file, validated at open; packed tensors open as QMatrix without copying."""

    _destroy = "qlow_qfile_close"

    def __init__(self, path=None, data=None, params=None, allocator=None, numpy=False):
        aptr, akeep = allocator_arg(allocator)
        p = params_arg(params)
        ph = p.handle if p else None
        out = ctypes.c_void_p()
        keep = [akeep, p]
        if data is not None:
            addr, dkeep = B.byte_pointer(data)
            if (addr.value or 0) % 64:
                from .quant import aligned_buffer
                copy, addr = aligned_buffer(_nbytes(data))
                copy[:] = memoryview(data).cast("B") if not B.is_ndarray(data) else data.tobytes()
                dkeep = copy
            lib.qlow_qfile_open_buffer(addr, _nbytes(data), ph, aptr, ctypes.byref(out))
            keep.append(dkeep)
        else:
            lib.qlow_qfile_open(str(path).encode(), ph, aptr, ctypes.byref(out))
        super().__init__(out, keep)
        self.numpy = numpy
        self._borrowers = weakref.WeakSet()

    def close(self):
        """Close the file, first closing every QMatrix that still borrows its memory."""
        for qm in list(getattr(self, "_borrowers", ())):
            qm.close()
        super().close()

    def _borrowed(self, out):
        qm = QMatrix(out, [self], numpy=self.numpy)
        self._borrowers.add(qm)
        return qm

    def __len__(self):
        n = ctypes.c_size_t()
        lib.qlow_qfile_tensor_count(self.handle, ctypes.byref(n))
        return n.value

    def index(self, name):
        i = ctypes.c_size_t()
        lib.qlow_qfile_tensor_find(self.handle, name.encode(), ctypes.byref(i))
        return i.value

    def info(self, which):
        """dict(name, kind, type, bits, shape) of a tensor by name or index."""
        idx = self.index(which) if isinstance(which, str) else which
        name = ctypes.c_char_p()
        kind, typ, bits, nd = ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32(), ctypes.c_int32()
        shape = (ctypes.c_int64 * C.QLOW_VIEW_MAX_DIMS)()
        lib.qlow_qfile_tensor_info(self.handle, idx, ctypes.byref(name), ctypes.byref(kind), ctypes.byref(typ),
                                   ctypes.byref(bits), ctypes.byref(nd), shape)
        return {"name": name.value.decode(), "kind": kind.value, "type": typ.value, "bits": bits.value,
                "shape": tuple(shape[:nd.value])}

    def names(self):
        return [self.info(i)["name"] for i in range(len(self))]

    def data(self, name):
        """(address, size) of a tensor's stored bytes inside the file mapping."""
        p, n = ctypes.c_void_p(), ctypes.c_size_t()
        lib.qlow_qfile_tensor_data(self.handle, self.index(name), ctypes.byref(p), ctypes.byref(n))
        return p.value, n.value

    def packed(self, name, ctx=None):
        """A QMatrix over the packed tensor's bytes in the file (qlow_qfile_tensor_qmatrix, no copy). It
        keeps this QFile open while it lives."""
        out = ctypes.c_void_p()
        lib.qlow_qfile_tensor_qmatrix(self.handle, self.index(name), ctx_handle(ctx), ctypes.byref(out))
        return self._borrowed(out)

    def packed_wrapped(self, name, ctx=None):
        """The same through qlow_qfile_tensor_data + qlow_qmatrix_wrap (the firmware path)."""
        addr, size = self.data(name)
        out = ctypes.c_void_p()
        lib.qlow_qmatrix_wrap(ctx_handle(ctx), ctypes.c_void_p(addr), size, ctypes.byref(out))
        return self._borrowed(out)

    def dense(self, name):
        """Zero-copy read-only array of a dense tensor (valid while this QFile is open)."""
        v = View()
        lib.qlow_qfile_tensor_view(self.handle, self.index(name), ctypes.byref(v))
        return _array_at(v.data, _DTYPE_FORMAT[v.dtype], tuple(v.shape[:v.ndim]), self.numpy)

    def verify(self, name):
        lib.qlow_qfile_tensor_verify(self.handle, self.index(name))

    def metadata(self):
        n = ctypes.c_size_t()
        lib.qlow_qfile_meta_count(self.handle, ctypes.byref(n))
        out = {}
        for i in range(n.value):
            k, t, v, sz = ctypes.c_char_p(), ctypes.c_int32(), ctypes.c_void_p(), ctypes.c_size_t()
            lib.qlow_qfile_meta_info(self.handle, i, ctypes.byref(k), ctypes.byref(t), ctypes.byref(v), ctypes.byref(sz))
            raw = ctypes.string_at(v, sz.value) if sz.value else b""
            key = k.value.decode()
            if t.value == C.QLOW_META_STRING:
                s = ctypes.c_char_p()
                lib.qlow_qfile_meta_get_string(self.handle, k.value, ctypes.byref(s))
                out[key] = s.value.decode()
            elif t.value == C.QLOW_META_INT:
                iv = ctypes.c_int64()
                lib.qlow_qfile_meta_get_int(self.handle, k.value, ctypes.byref(iv))
                out[key] = iv.value
            elif t.value == C.QLOW_META_FLOAT:
                fv = ctypes.c_double()
                lib.qlow_qfile_meta_get_float(self.handle, k.value, ctypes.byref(fv))
                out[key] = fv.value
            else:
                out[key] = raw
        return out

    def meta_index(self, key):
        i = ctypes.c_size_t()
        lib.qlow_qfile_meta_find(self.handle, key.encode(), ctypes.byref(i))
        return i.value
