"""The generated ABI module against the header and the C compiler: constants, layouts, functions."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import ftplens
from ftplens._lib import abi, lib

HEADER = Path(__file__).resolve().parents[2] / "include" / "ftplens.h"
needs_header = pytest.mark.skipif(not HEADER.is_file(), reason="include/ftplens.h not found (not a clone)")


def structs():  # type: ignore[no-untyped-def]
    return [
        v for v in vars(abi).values()
        if isinstance(v, type) and issubclass(v, ctypes.Structure) and hasattr(v, "_fields_")
    ]


@needs_header
def test_every_define_is_generated() -> None:
    text = HEADER.read_text()
    defines = re.findall(r"^#define\s+(FTPLENS_[A-Z0-9_]+)\s+(\S+)", text, re.M)
    assert len(defines) > 50
    for name, value in defines:
        if name == "FTPLENS_H":
            continue
        assert hasattr(abi, name), name
        expected = 0xFFFFFFFF if value == "UINT32_MAX" else int(value, 0)
        assert getattr(abi, name) == expected, name


def test_enums_match_constants() -> None:
    assert ftplens.Direction.TO_SERVER == abi.FTPLENS_DIR_TO_SERVER
    assert ftplens.EventKind.DATA_EXPECTED == abi.FTPLENS_EVENT_DATA_EXPECTED
    assert ftplens.Mode.LPSV == abi.FTPLENS_MODE_LPSV
    assert len(ftplens.Anomaly) == abi.FTPLENS_ANOMALY_COUNT  # NONE..TRANSFER_FAILED
    for a in ftplens.Anomaly:
        if a is not ftplens.Anomaly.NONE:
            assert ftplens.anomaly_name(a) == a.name.lower()


@needs_header
def test_every_function_is_declared_and_exported() -> None:
    declared = set(re.findall(r"\b(ftplens_\w+)\s*\(", HEADER.read_text()))
    assert declared == set(abi.FUNCTIONS)
    for name in declared:
        assert getattr(lib, name).argtypes is not None or not abi.FUNCTIONS[name][1]


@needs_header
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_struct_layouts_match_the_c_compiler(tmp_path: Path) -> None:
    lines = ["#include <stddef.h>", "#include <stdio.h>", '#include "%s"' % HEADER, "int main(void) {"]
    expected = []
    for st in structs():
        name = st.__name__
        lines.append('printf("%s %%zu %%zu\\n", sizeof(%s), _Alignof(%s));' % (name, name, name))
        expected.append("%s %d %d" % (name, ctypes.sizeof(st), ctypes.alignment(st)))
        for field, _ in st._fields_:
            lines.append('printf("%s.%s %%zu\\n", offsetof(%s, %s));' % (name, field, name, field))
            expected.append("%s.%s %d" % (name, field, getattr(st, field).offset))
    lines += ["return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines))
    subprocess.run(["cc", "-std=c11", str(src), "-o", str(tmp_path / "layout")], check=True)
    out = subprocess.run([str(tmp_path / "layout")], capture_output=True, text=True, check=True).stdout
    assert out.split("\n")[:-1] == expected
