"""Generate the Python view of the C ABI from ``include/ftplens.h``.

The header is the single source of every constant, struct layout and function signature the Python
package uses. This module parses the (deliberately regular) header and writes ``_abi.py``:

* each ``typedef uint32_t ftplens_<name>;`` followed by ``#define`` lines becomes an ``enum.IntEnum``
  (``ftplens_event_kind`` -> ``EventKind``, members with the common prefix removed: ``COMMAND``...);
  a ``*_COUNT`` sentinel stays a plain constant;
* every ``#define FTPLENS_<X> <value>`` also becomes a module constant ``FTPLENS_<X>``;
* every ``typedef struct ... { ... } name;`` becomes a ``ctypes.Structure`` subclass with the same
  fields in the same order;
* every function prototype becomes an entry of ``FUNCTIONS``: ``name -> (restype, [argtypes])``.

It is used by the build backend (``build_backend/ftplens_build.py``) and, when the package runs from
a source checkout without a generated ``_abi.py``, by ``ftplens._lib`` at import time. It uses the
standard library only and must keep working on the oldest supported Python.
"""

from __future__ import annotations

import re
from typing import Dict, List, Optional, Tuple

__all__ = ["AbiParseError", "generate", "parse_header"]


class AbiParseError(ValueError):
    """The header contains a construct this generator does not understand."""


# C scalar types -> ctypes names.
_SCALARS = {
    "uint8_t": "ctypes.c_uint8",
    "uint16_t": "ctypes.c_uint16",
    "uint32_t": "ctypes.c_uint32",
    "uint64_t": "ctypes.c_uint64",
    "int8_t": "ctypes.c_int8",
    "int16_t": "ctypes.c_int16",
    "int32_t": "ctypes.c_int32",
    "int64_t": "ctypes.c_int64",
    "size_t": "ctypes.c_size_t",
    "bool": "ctypes.c_bool",
    "double": "ctypes.c_double",
    "float": "ctypes.c_float",
    "char": "ctypes.c_char",
    "int": "ctypes.c_int",
    "unsigned": "ctypes.c_uint",
}

_INT_LIMITS = {
    "UINT8_MAX": 0xFF,
    "UINT16_MAX": 0xFFFF,
    "UINT32_MAX": 0xFFFFFFFF,
    "UINT64_MAX": 0xFFFFFFFFFFFFFFFF,
    "SIZE_MAX": 0xFFFFFFFFFFFFFFFF,
}


def _strip_comments(text: str) -> str:
    # A comment is a space (C11 5.1.1.2); a comment spanning lines must not end an enum group.
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def _int_value(expr: str) -> Optional[int]:
    expr = expr.strip()
    while expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1].strip()
    if expr in _INT_LIMITS:
        return _INT_LIMITS[expr]
    m = re.fullmatch(r"(-?)(0[xX][0-9a-fA-F]+|\d+)[uUlL]*", expr)
    if not m:
        return None
    value = int(m.group(2), 0)
    return -value if m.group(1) else value


def _camel(typedef_name: str) -> str:
    base = typedef_name[len("ftplens_"):] if typedef_name.startswith("ftplens_") else typedef_name
    return "".join(part.capitalize() for part in base.split("_"))


def _common_prefix(names: List[str]) -> str:
    """The prefix to drop from enum members: ``FTPLENS_<GROUP>_`` when all members share it
    (``FTPLENS_DIR_TO_SERVER`` -> ``TO_SERVER``), else ``FTPLENS_`` (``FTPLENS_ERR_PANIC`` ->
    ``ERR_PANIC`` next to ``FTPLENS_OK`` -> ``OK``)."""
    heads = {"_".join(n.split("_")[:2]) + "_" for n in names}
    if len(heads) == 1:
        head = heads.pop()
        if all(len(n) > len(head) for n in names):
            return head
    return "FTPLENS_"


class Header:
    """The parsed header: constants, enums, typedefs, structs and functions, in header order."""

    def __init__(self) -> None:
        self.constants: Dict[str, int] = {}
        self.enums: List[Tuple[str, str, List[Tuple[str, str, int]]]] = []  # (py, c typedef, members)
        self.aliases: Dict[str, str] = {}  # typedef name -> C scalar
        self.opaque: List[str] = []
        self.structs: List[Tuple[str, List[Tuple[str, str, Optional[int]]]]] = []
        self.functions: List[Tuple[str, str, List[Tuple[str, str]]]] = []


def parse_header(text: str) -> Header:
    """Parse the text of ftplens.h."""
    h = Header()
    src = _strip_comments(text)
    lines = src.split("\n")

    # Constants and enum groups: a scalar typedef followed directly by #defines.
    current: Optional[Tuple[str, List[Tuple[str, int]]]] = None
    groups: List[Tuple[str, List[Tuple[str, int]]]] = []
    for raw in lines:
        line = raw.strip()
        m = re.fullmatch(r"typedef\s+(\w+)\s+(ftplens_\w+)\s*;", line)
        if m:
            if m.group(1) in _SCALARS:
                h.aliases[m.group(2)] = m.group(1)
                current = (m.group(2), [])
                groups.append(current)
            else:
                current = None
            continue
        m = re.fullmatch(r"#\s*define\s+(FTPLENS_\w+)\s+(.+)", line)
        if m:
            value = _int_value(m.group(2))
            if value is None:
                raise AbiParseError("cannot evaluate #define %s %s" % (m.group(1), m.group(2)))
            h.constants[m.group(1)] = value
            if current is not None:
                current[1].append((m.group(1), value))
            continue
        current = None
    for typedef, defines in groups:
        members = [(n, v) for n, v in defines if not n.endswith("_COUNT")]
        if not members:
            continue
        prefix = _common_prefix([n for n, _ in members])
        h.enums.append(
            (_camel(typedef), typedef, [(n[len(prefix):], n, v) for n, v in members])
        )

    # Opaque handles: typedef struct x x;
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*;", src):
        h.opaque.append(m.group(2))

    # Structs.
    for m in re.finditer(r"typedef\s+struct\s+\w*\s*\{(.*?)\}\s*(\w+)\s*;", src, flags=re.S):
        body, name = m.group(1), m.group(2)
        fields: List[Tuple[str, str, Optional[int]]] = []
        for decl in body.split(";"):
            decl = " ".join(decl.split())
            if not decl:
                continue
            fm = re.fullmatch(r"(.+?)\s*\b(\w+)\s*(?:\[\s*(\w+)\s*\])?", decl)
            if not fm:
                raise AbiParseError("cannot parse field %r of %s" % (decl, name))
            ctype, fname, count = fm.group(1).strip(), fm.group(2), fm.group(3)
            n: Optional[int] = None
            if count is not None:
                n = _int_value(count)
                if n is None:
                    n = h.constants.get(count)
                if n is None:
                    raise AbiParseError("cannot evaluate array size %r in %s" % (count, name))
            fields.append((fname, ctype, n))
        h.structs.append((name, fields))

    # Functions: everything outside braces that looks like `type name(args);`.
    flat = re.sub(r"typedef\s+struct\s+\w*\s*\{.*?\}\s*\w+\s*;", "", src, flags=re.S)
    flat = re.sub(r"^\s*#.*$", "", flat, flags=re.M)
    flat = flat.replace('extern "C" {', "").replace("}", "")
    for m in re.finditer(r"([A-Za-z_][\w\s\*]*?)\b(ftplens_\w+)\s*\(([^()]*)\)\s*;", flat):
        restype, name, args = " ".join(m.group(1).split()), m.group(2), " ".join(m.group(3).split())
        params: List[Tuple[str, str]] = []
        if args and args != "void":
            for i, a in enumerate(args.split(",")):
                a = a.strip()
                am = re.fullmatch(r"(.+?[\s\*])(\w+)", a)
                if am and am.group(2) not in _SCALARS and not am.group(2).startswith("ftplens_"):
                    params.append((am.group(2), am.group(1).strip()))
                else:
                    params.append(("arg%d" % i, a))
        h.functions.append((name, restype, params))
    return h


def _ctype(h: Header, ctype: str, *, field: bool) -> str:
    """ctypes expression for a C type (without array suffix)."""
    depth = ctype.count("*")
    base = " ".join(ctype.replace("*", " ").replace("const", " ").split())
    if base == "void" and depth == 0:
        return "None"
    if depth == 0:
        if base in h.aliases:
            return _SCALARS[h.aliases[base]]
        if base in _SCALARS:
            return _SCALARS[base]
        if any(base == s for s, _ in h.structs):
            return base
        raise AbiParseError("unknown type %r" % ctype)
    if depth == 1:
        if base == "char":
            return "ctypes.c_char_p"
        if base in ("void", "uint8_t", "int8_t") or base in h.opaque and not any(
            base == s for s, _ in h.structs
        ):
            return "ctypes.c_void_p"
    inner = _ctype(h, ctype.rsplit("*", 1)[0], field=field)
    return "ctypes.POINTER(%s)" % inner


def generate(text: str, *, source: str = "include/ftplens.h") -> str:
    """Return the Python source of ``_abi.py`` for the header text."""
    h = parse_header(text)
    out: List[str] = []
    w = out.append
    w('"""The ftplens C ABI as seen from Python. GENERATED from %s: do not edit."""' % source)
    w("")
    w("# fmt: off")
    w("import ctypes")
    w("import enum")
    w("from typing import Dict, List, Optional, Tuple")
    w("")
    w("HEADER = %r" % source)
    w("")
    for name, value in h.constants.items():
        w("%s = %d" % (name, value))
    w("")
    for py, typedef, members in h.enums:
        w("")
        w("class %s(enum.IntEnum):" % py)
        w('    """``%s`` values from the header."""' % typedef)
        w("")
        for member, cname, value in members:
            if not member.isidentifier() or member[0].isdigit():
                member = "V_" + member
            w("    %s = %d  # %s" % (member, value, cname))
        w("")
    w("")
    for name in h.opaque:
        if not any(name == s for s, _ in h.structs):
            w("class %s(ctypes.Structure):" % name)
            w('    """Opaque handle."""')
            w("")
    for name, fields in h.structs:
        w("")
        w("class %s(ctypes.Structure):" % name)
        w('    """``%s`` from the header."""' % name)
        w("")
        w("    _fields_ = [")
        for fname, ctype, count in fields:
            t = _ctype(h, ctype, field=True)
            if count is not None:
                t = "%s * %d" % (t, count)
            w("        (%r, %s),  # %s%s" % (fname, t, ctype, "[%d]" % count if count is not None else ""))
        w("    ]")
        w("")
    w("")
    w("# name -> (restype, argtypes, C prototype)")
    w("FUNCTIONS: Dict[str, Tuple[Optional[type], List[type], str]] = {")
    for name, restype, params in h.functions:
        proto = "%s %s(%s)" % (restype, name, ", ".join("%s %s" % (t, n) for n, t in params) or "void")
        args = ", ".join(_ctype(h, t, field=False) for _, t in params)
        w("    %r: (%s, [%s], %r)," % (name, _ctype(h, restype, field=False), args, proto))
    w("}")
    w("")
    w("ENUMS = {%s}" % ", ".join("%r: %s" % (typedef, py) for py, typedef, _ in h.enums))
    w("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover - manual use: python _abigen.py include/ftplens.h
    import sys

    with open(sys.argv[1], encoding="utf-8") as f:
        sys.stdout.write(generate(f.read(), source=sys.argv[1]))
