"""Which Lua a Wireshark embeds, as `make install-lua` reads it from `tshark -v` (mk/lua-version.sh).

The outputs in tests/lua-version/ were captured from the real tshark 4.0.17, 4.4.19 and 4.6.9; the Lua
each names is written in its text (5.2.4, 5.4.7, 5.4.9), so the expectations below are read off the
files, not produced by the script.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import ROOT

SCRIPT = ROOT / "mk/lua-version.sh"
OUTPUTS = ROOT / "tests/lua-version"
# file -> the Lua major.minor its text names
EXPECTED = {"tshark-4.0.17.txt": "5.2", "tshark-4.4.19.txt": "5.4", "tshark-4.6.9.txt": "5.4"}


def _detect(text: str) -> str:
    return subprocess.run(["sh", str(SCRIPT)], input=text, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_reads_the_lua_version_of_each_tested_wireshark(name):
    text = (OUTPUTS / name).read_text()
    # The fixture is what it says it is.
    assert re.match(r"TShark \(Wireshark\) %s\b" % re.escape(name[len("tshark-"):-len(".txt")]), text)
    assert _detect(text) == EXPECTED[name]


def test_the_forms_differ():
    """What the old single pattern missed: 4.6 does not say "with Lua", 4.0 breaks "with Lua" and the version
    across lines."""
    v40, v46 = (OUTPUTS / "tshark-4.0.17.txt").read_text(), (OUTPUTS / "tshark-4.6.9.txt").read_text()
    assert "with Lua\n5.2.4" in v40
    assert "with Lua" not in v46 and "+Lua 5.4.9" in v46


@pytest.mark.parametrize("text", [
    "TShark (Wireshark) 4.0.0.\n\nCompiled ... with libnl 3, without Lua, with GnuTLS 3.7.9\n",
    "TShark (Wireshark) 4.6.0.\n\n With:\n  +brotli   +LZ4 1.10.0\n Without:\n  -Lua\n  -zlib-ng\n",
])
def test_a_wireshark_without_lua_gives_nothing(text):
    assert _detect(text) == ""


def _fake_tshark(tmp_path: Path, output: Path) -> Path:
    fake = tmp_path / "tshark"
    fake.write_text("#!/bin/sh\ncat '%s'\n" % output)
    fake.chmod(0o755)
    return fake


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_make_builds_the_module_for_that_lua(name, tmp_path):
    """`make lua-module` with no LUA_VERSION, with a tshark on PATH that prints the captured output: the
    module is built for the Lua read from it (dry run: nothing is built)."""
    _fake_tshark(tmp_path, OUTPUTS / name)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ.get("PATH", "")))
    env.pop("LUA_VERSION", None)
    out = subprocess.run(["make", "-n", "lua-module"], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout
    lua = EXPECTED[name]
    assert "--features lua%s" % lua.replace(".", "") in out, out
    assert "build/lua-%s/ftplens_core.so" % lua in out, out


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_refuses_a_tshark_without_lua(tmp_path):
    fake = tmp_path / "without-lua.txt"
    fake.write_text("TShark (Wireshark) 4.6.0.\n Without:\n  -Lua\n")
    _fake_tshark(tmp_path, fake)
    env = dict(os.environ, PATH="%s:%s" % (tmp_path, os.environ.get("PATH", "")))
    env.pop("LUA_VERSION", None)
    p = subprocess.run(["make", "lua-module"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "names no Lua" in p.stderr, p.stderr


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_the_host_tshark_agrees_with_its_captured_output():
    """The live tshark of this machine gives the Lua its captured output gives (when it is one of them)."""
    live = subprocess.run(["tshark", "-v"], capture_output=True, text=True).stdout
    version = re.match(r"TShark \(Wireshark\) (\S+?)\.?\s", live)
    name = "tshark-%s.txt" % (version.group(1) if version else "?")
    if name not in EXPECTED:
        pytest.skip("the host's tshark is none of the captured ones: " + live.splitlines()[0])
    assert _detect(live) == EXPECTED[name]
