"""Loading libftplens and declaring its functions from the generated ABI description.

Where the library comes from, first match wins:

1. ``$FTPLENS_LIBRARY``: an explicit path (development, or a system copy you want to force);
2. ``libftplens.so`` inside this package (what ``pip install`` puts there);
3. the system loader's search (``ctypes.util.find_library("ftplens")``, e.g. after
   ``make install-lib``).

The ABI description (``_abi.py``) is generated from ``include/ftplens.h`` at build time. When the
package runs straight from a source checkout (``PYTHONPATH=python/src``) it is generated in memory from
``$FTPLENS_HEADER`` or the checkout's ``include/ftplens.h`` instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import types
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Type

__all__ = ["abi", "lib", "library_path", "check", "FtplensError"]

_HERE = Path(__file__).resolve().parent


def _load_abi() -> types.ModuleType:
    try:
        from . import _abi  # type: ignore[attr-defined]  # generated at build time

        return _abi
    except ImportError:
        pass
    header = os.environ.get("FTPLENS_HEADER")
    candidates = [Path(header)] if header else [_HERE.parents[2] / "include" / "ftplens.h"]
    for path in candidates:
        if path.is_file():
            from . import _abigen

            source = _abigen.generate(path.read_text(encoding="utf-8"), source=str(path))
            module = types.ModuleType(__name__.rsplit(".", 1)[0] + "._abi")
            module.__file__ = str(path)
            exec(compile(source, str(path) + " (generated)", "exec"), module.__dict__)
            sys.modules[module.__name__] = module
            return module
    raise ImportError(
        "ftplens: the generated ABI module _abi.py is missing and include/ftplens.h was not found; "
        "install the package with pip, or set FTPLENS_HEADER"
    )


abi = _load_abi()


def _find_library() -> str:
    env = os.environ.get("FTPLENS_LIBRARY")
    if env:
        if not os.path.exists(env):
            raise ImportError("ftplens: FTPLENS_LIBRARY=%s does not exist" % env)
        return env
    for name in ("libftplens.so", "libftplens.dylib", "ftplens.dll"):
        bundled = _HERE / name
        if bundled.exists():
            return str(bundled)
    found = ctypes.util.find_library("ftplens")
    if found:
        return found
    raise ImportError(
        "ftplens: libftplens was not found: not bundled in %s, FTPLENS_LIBRARY unset, and the system "
        "loader does not know it" % _HERE
    )


library_path = _find_library()
lib = ctypes.CDLL(library_path)

_missing = []
for _name, (_restype, _argtypes, _proto) in abi.FUNCTIONS.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        _missing.append(_proto)
        continue
    _fn.restype = _restype
    _fn.argtypes = _argtypes
if _missing:
    raise ImportError(
        "ftplens: %s does not export %d function(s) of the header: %s"
        % (library_path, len(_missing), "; ".join(_missing))
    )

_loaded_abi = lib.ftplens_abi_version()
if _loaded_abi != abi.FTPLENS_ABI_VERSION:
    raise ImportError(
        "ftplens: %s has ABI version %d but this package was built for %d (include/ftplens.h)"
        % (library_path, _loaded_abi, abi.FTPLENS_ABI_VERSION)
    )


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
    abi.FTPLENS_ERR_NULL_ARGUMENT: NullArgumentError,
    abi.FTPLENS_ERR_INVALID_ARGUMENT: InvalidArgumentError,
    abi.FTPLENS_ERR_PANIC: InternalError,
    abi.FTPLENS_ERR_POISONED: PoisonedSessionError,
    abi.FTPLENS_ERR_PARSE: ParseError,
}


def check(result: int, what: str) -> None:
    """Raise the exception matching a non-zero ``ftplens_result``."""
    if result == abi.FTPLENS_OK:
        return
    try:
        name = abi.Result(result).name
    except ValueError:
        name = "unknown result %d" % result
    raise _ERRORS.get(result, FtplensError)("%s failed: %s" % (what, name), result)


def func(name: str) -> Callable[..., Any]:
    """The declared foreign function ``name``."""
    return getattr(lib, name)  # type: ignore[no-any-return]
