"""Loading libftplens with cffi (ABI mode) and the enums of its header.

The declarations are cffi's reading of ``include/ftplens.h`` (see :mod:`ftplens._cdef`): the wheel
carries them precompiled as ``_ffi.py`` (cffi's out-of-line ABI mode, written at build time, no C
compiler involved); a source checkout (``PYTHONPATH=python/src``) reads the header at import, from
``$FTPLENS_HEADER`` or the checkout's ``include/ftplens.h``.

Where the library comes from, first match wins:

1. ``$FTPLENS_LIBRARY``: an explicit path (development, or a system copy you want to force);
2. the copy inside this package (what ``pip install`` puts there);
3. the system loader's search (``ctypes.util.find_library("ftplens")``, e.g. after
   ``make install-lib``).

cffi releases the GIL around every call into the library, so sessions and analyses on different
threads run in parallel.
"""

from __future__ import annotations

import ctypes.util
import os
from pathlib import Path
from typing import Any, Dict, Optional, Type

import cffi

__all__ = ["ffi", "lib", "library_path", "check", "string", "FtplensError"]

_HERE = Path(__file__).resolve().parent


def _load_ffi() -> Any:
    """The built ``_ffi`` module's FFI (a ``_cffi_backend.FFI``), or a ``cffi.FFI`` over the header."""
    try:
        from ._ffi import ffi as built  # type: ignore[import-not-found,unused-ignore]

        return built
    except ImportError:
        pass
    header = os.environ.get("FTPLENS_HEADER")
    path = Path(header) if header else _HERE.parents[2] / "include" / "ftplens.h"
    if not path.is_file():
        raise ImportError(
            "ftplens: the compiled declarations (_ffi.py) are missing and %s was not found; install "
            "the package with pip, or set FTPLENS_HEADER" % path
        )
    from ._cdef import declarations

    fresh = cffi.FFI()
    fresh.cdef(declarations(path.read_text(encoding="utf-8")))
    return fresh


# Any: cdata (structs, pointers) has the header's fields, which no static type describes.
ffi: Any = _load_ffi()


def _find_library() -> str:
    env = os.environ.get("FTPLENS_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise ImportError("ftplens: FTPLENS_LIBRARY=%s does not exist" % env)
        return env
    # setuptools-rust names the cdylib like an extension module (_libftplens.<platform suffix>).
    for bundled in sorted(_HERE.glob("_libftplens*")):
        return str(bundled)
    found = ctypes.util.find_library("ftplens")
    if found:
        return found
    raise ImportError(
        "ftplens: libftplens was not found: not bundled in %s, FTPLENS_LIBRARY unset, and the system "
        "loader does not know it" % _HERE
    )


library_path = _find_library()
lib: Any = ffi.dlopen(library_path)

_loaded_abi = lib.ftplens_abi_version()
if _loaded_abi != lib.FTPLENS_ABI_VERSION:
    raise ImportError(
        "ftplens: %s has ABI version %d but this package was built for %d (include/ftplens.h)"
        % (library_path, _loaded_abi, lib.FTPLENS_ABI_VERSION)
    )


def string(value: Any) -> Optional[str]:
    """A library C string (``const char *`` or ``char[N]``, UTF-8) as str; ``None`` for NULL."""
    if value == ffi.NULL:
        return None
    return ffi.string(value).decode("utf-8", "replace")  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------------ errors
class FtplensError(Exception):
    """Base class of every error raised by ftplens.

    ``code`` is the ``ftplens_result`` number from the C ABI (a :class:`ftplens.Result`), or ``None``
    for errors raised by the Python layer itself.
    """

    code: Optional[int] = None

    def __init__(self, message: str, code: Optional[int] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class ParseError(FtplensError, ValueError):
    """The bytes are not an FTP line of the given direction (``FTPLENS_ERR_PARSE``)."""


class InvalidArgumentError(FtplensError, ValueError):
    """An enum value or an index out of range (``FTPLENS_ERR_INVALID_ARGUMENT``)."""


class NullArgumentError(FtplensError):
    """A required pointer was NULL (``FTPLENS_ERR_NULL_ARGUMENT``); a bug in this binding."""


class InternalError(FtplensError):
    """The core caught an internal bug (``FTPLENS_ERR_PANIC``); the session is now poisoned."""


class PoisonedSessionError(FtplensError):
    """The session panicked earlier and can no longer be used (``FTPLENS_ERR_POISONED``)."""


class SessionClosedError(FtplensError, ValueError):
    """The session was closed (or finished and closed) and cannot be used any more."""


class AddressError(FtplensError, ValueError):
    """A line that should carry a data-channel address has none or a malformed one."""


_ERRORS: Dict[int, Type[FtplensError]] = {
    lib.FTPLENS_ERR_NULL_ARGUMENT: NullArgumentError,
    lib.FTPLENS_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    lib.FTPLENS_ERR_PANIC: InternalError,
    lib.FTPLENS_ERR_POISONED: PoisonedSessionError,
    lib.FTPLENS_ERR_PARSE: ParseError,
}


def check(result: int, what: str) -> None:
    """Raise the exception matching a non-zero ``ftplens_result``."""
    if result == lib.FTPLENS_OK:
        return
    from ._enums import Result

    try:
        name = Result(result).name
    except ValueError:
        name = "unknown result %d" % result
    raise _ERRORS.get(result, FtplensError)("%s failed: %s" % (what, name), result)
