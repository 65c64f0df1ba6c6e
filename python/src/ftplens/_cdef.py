"""``include/ftplens.h`` made readable by cffi's ``cdef``.

cffi parses C declarations itself (with pycparser) and says what it cannot take: preprocessor
directives other than ``#define NAME <integer>`` (no ``#include``, no conditionals, no include guard)
and ``extern "C"``. The header is otherwise plain C, so this module only removes those, line by line;
every declaration, struct layout and constant is cffi's reading of the header itself.

- ``#include <stdint.h>`` and friends: cffi knows ``uint32_t``, ``size_t`` and ``bool`` already;
- the include guard and the ``#ifdef __cplusplus`` block (``extern "C" {`` and its ``}``) go;
- a ``#define`` whose value is a ``<stdint.h>`` limit (``FTPLENS_NO_EXPERT UINT32_MAX``) gets the
  number, because cffi's ABI mode reads integer literals only.

Used at build time (``ffi_build.py`` writes the out-of-line module ``ftplens/_ffi.py``) and, when the
package runs from a source checkout, at import.
"""

from __future__ import annotations

import re
from typing import List

__all__ = ["declarations"]

# C11 7.20.2: the limits of the exact-width types (two's complement, as the header assumes).
_STDINT_LIMITS = {
    "UINT8_MAX": 0xFF,
    "UINT16_MAX": 0xFFFF,
    "UINT32_MAX": 0xFFFFFFFF,
    "UINT64_MAX": 0xFFFFFFFFFFFFFFFF,
    "INT32_MAX": 0x7FFFFFFF,
    "INT64_MAX": 0x7FFFFFFFFFFFFFFF,
}

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def declarations(header: str) -> str:
    """The header's declarations, as ``cffi.FFI.cdef`` accepts them."""
    # Comments first: a comment line that starts with "#" is not a directive.
    text = _COMMENT.sub(lambda m: "\n" * m.group(0).count("\n"), header)
    out: List[str] = []
    skipping = 0  # depth inside an #ifdef __cplusplus block
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("#"):
            if not skipping:
                out.append(line)
            continue
        words = stripped[1:].split()
        directive = words[0] if words else ""
        if directive in ("if", "ifdef", "ifndef"):
            if skipping or words[1:2] == ["__cplusplus"]:
                skipping += 1
        elif directive == "endif":
            skipping = max(0, skipping - 1)
        elif directive == "define" and not skipping and len(words) == 3:
            name, value = words[1], words[2]
            out.append("#define %s %s" % (name, _STDINT_LIMITS.get(value, value)))
        # Anything else (#include, the guard's #define without a value, #else) means nothing to cffi.
    return "\n".join(out) + "\n"
