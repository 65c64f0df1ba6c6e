"""The record types are the core's: ``_record_types.py`` is what ``python/gen_records.py`` makes of the
JSON Schema the ``ftplens schema`` command derives from the records' declarations."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest

import ftplens._record_types
from checkout import REPO, cli

GENERATOR = REPO / "python" / "gen_records.py"


def test_the_record_types_are_what_the_core_schema_gives() -> None:
    exe = cli()
    if exe is None:
        pytest.skip("no ftplens command built (cargo build) and none on PATH")
    if not GENERATOR.is_file():
        pytest.skip("python/gen_records.py not found (not a clone)")
    proc = subprocess.run([exe, "schema"], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    schema = json.loads(proc.stdout)
    spec = importlib.util.spec_from_file_location("gen_records", GENERATOR)
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    committed = Path(ftplens._record_types.__file__).read_text(encoding="utf-8")
    assert committed == gen.render(schema), (
        "regenerate: ftplens schema | python3 python/gen_records.py"
    )
    # The schema describes the records the command writes: every record type, its type constant.
    assert set(ftplens._record_types.RECORD_TYPES) == {
        d["properties"]["type"]["const"] for name, d in schema["$defs"].items() if name.endswith("Record")
    }
