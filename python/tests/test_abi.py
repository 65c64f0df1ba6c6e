"""cffi's reading of the header against the header's text, the C compiler and the loaded library."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path
from typing import List

import pytest

import ftplens
from ftplens._cdef import declarations
from ftplens._enums import PLAIN, PREFIXES
from ftplens._lib import ffi, lib

HEADER = Path(__file__).resolve().parents[2] / "include" / "ftplens.h"
needs_header = pytest.mark.skipif(not HEADER.is_file(), reason="include/ftplens.h not found (not a clone)")


def header_defines() -> List[tuple]:  # type: ignore[type-arg]
    return [
        (n, v)
        for n, v in re.findall(r"^#define\s+(FTPLENS_[A-Z0-9_]+)\s+(\S+)", HEADER.read_text(), re.M)
        if n != "FTPLENS_H"
    ]


@needs_header
def test_every_define_is_read_with_its_value() -> None:
    defines = header_defines()
    assert len(defines) > 50
    for name, value in defines:
        expected = 0xFFFFFFFF if value == "UINT32_MAX" else int(value, 0)
        assert getattr(lib, name) == expected, name


@needs_header
def test_every_constant_is_in_exactly_one_enum_or_plain() -> None:
    owners = {name: [] for name, _ in header_defines()}  # type: ignore[var-annotated]
    for cls, prefix in PREFIXES.items():
        for member in cls:
            owners.setdefault(prefix + member.name, []).append(cls.__name__)
            assert getattr(lib, prefix + member.name) == member.value
    for name in PLAIN:
        owners[name].append("PLAIN")
    assert {n: o for n, o in owners.items() if len(o) != 1} == {}


def test_enums_match_constants() -> None:
    assert ftplens.Direction.TO_SERVER == lib.FTPLENS_DIR_TO_SERVER
    assert ftplens.EventKind.DATA_EXPECTED == lib.FTPLENS_EVENT_DATA_EXPECTED
    assert ftplens.Mode.LPSV == lib.FTPLENS_MODE_LPSV
    assert len(ftplens.Anomaly) == lib.FTPLENS_ANOMALY_COUNT  # NONE..TRANSFER_FAILED
    for a in ftplens.Anomaly:
        if a is not ftplens.Anomaly.NONE:
            assert ftplens.anomaly_name(a) == a.name.lower()


@needs_header
def test_every_function_is_declared_and_exported() -> None:
    declared = set(re.findall(r"\b(ftplens_\w+)\s*\(", HEADER.read_text()))
    assert len(declared) >= 25
    for name in declared:
        # cffi resolves the symbol in the loaded library on first access: AttributeError if absent.
        assert callable(getattr(lib, name)), name


@needs_header
def test_the_cdef_keeps_every_declaration_and_drops_only_directives() -> None:
    text = declarations(HEADER.read_text())
    assert "#include" not in text and "extern" not in text and "#if" not in text
    assert "#define FTPLENS_NO_EXPERT 4294967295" in text
    for name in set(re.findall(r"\b(ftplens_\w+)\s*\(", HEADER.read_text())):
        assert name + "(" in text, name


@needs_header
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_struct_layouts_match_the_c_compiler(tmp_path: Path) -> None:
    structs = sorted(set(re.findall(r"^typedef struct (ftplens_\w+) \{", HEADER.read_text(), re.M)))
    assert len(structs) >= 10
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "%s"' % HEADER, "int main(void) {"]
    expected = []
    for name in structs:
        lines.append('printf("%s %%zu %%zu\\n", sizeof(%s), _Alignof(%s));' % (name, name, name))
        expected.append("%s %d %d" % (name, ffi.sizeof(name), ffi.alignof(name)))
        for field, _ in ffi.typeof(name).fields:
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (name, field, name, field))
            expected.append("%s.%s %d" % (name, field, ffi.offsetof(name, field)))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    subprocess.run(["cc", "-std=c11", str(src), "-o", str(tmp_path / "layout")], check=True)
    out = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:-1] == expected


def test_limits_are_the_header_fields_and_the_core_registry() -> None:
    # The core's limit registry is the source; the build holds the header's struct to it, and this
    # holds the Python dataclass (spelled out for type checkers) to both.
    fields = [f.name for f in dataclasses.fields(ftplens.Limits)]
    assert fields == [name for name, _ in ffi.typeof("ftplens_limits").fields]
    info = ffi.new("ftplens_limit_info *")
    names = []
    for i in range(lib.ftplens_limit_count()):
        assert lib.ftplens_limit_get(i, info) == lib.FTPLENS_OK
        names.append(ffi.string(info.name).decode())
    assert fields == names
