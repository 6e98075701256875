"""Base class for Python objects that own a C object."""
import ctypes

from . import _lib


class Handle:
    """Owns one C pointer and the Python objects C may still reach through it (allocator callbacks,
    HVP callbacks, borrowed buffers). close() is idempotent; the context manager and __del__ call it.
    Subclasses set _destroy to the C destroy function's name (None for caller-placed objects)."""

    _destroy = None

    def __init__(self, ptr=None, keep=()):
        self._ptr = ptr
        self._keep = list(keep)

    @property
    def handle(self):
        """The raw C pointer (a ctypes.c_void_p); raises ValueError once closed."""
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr

    @property
    def closed(self):
        return not self._ptr

    def keep_alive(self, obj):
        self._keep.append(obj)

    def close(self):
        ptr, self._ptr = self._ptr, None
        if ptr and self._destroy:
            fn = getattr(_lib.lib, self._destroy, None) if _lib is not None and _lib.lib else None
            if fn is not None:
                fn(ptr)
        self._keep = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown may have torn down modules already
            pass


def new_out_pointer():
    return ctypes.c_void_p()
