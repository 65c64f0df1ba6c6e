"""cffi's out-of-line ABI-mode module ``ftplens._ffi``: the declarations of ``include/ftplens.h``,
parsed once at build time and stored as Python (``ffi.dlopen`` then needs neither the header nor a C
compiler at import)."""

import importlib.util
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
# The same preparation as a source-tree import uses, loaded alone: importing the package would load
# the library, which is not built yet.
_spec = importlib.util.spec_from_file_location("_cdef", HERE / "src" / "ftplens" / "_cdef.py")
assert _spec is not None and _spec.loader is not None
_cdef = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cdef)

ffibuilder = cffi.FFI()
ffibuilder.cdef(_cdef.declarations((HERE.parent / "include" / "ftplens.h").read_text(encoding="utf-8")))
ffibuilder.set_source("ftplens._ffi", None)

if __name__ == "__main__":
    ffibuilder.compile(tmpdir=str(HERE / "src"), verbose=True)
