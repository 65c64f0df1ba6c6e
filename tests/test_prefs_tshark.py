"""The preferences in words and "Hide passwords" (issue 12 item 7), through the real tshark with the
real C plugin and, separately, the real Lua fallback.

The password and user are the seed sample's recorded facts (samples/seed-pasv.facts.json), not
output of ftplens.

Titles: tshark 4.0's `-G defaultprefs` / `-G currentprefs` print each preference's description,
its type and `#name: value`, but not its title (the label of the GUI dialog), so what tshark can
show is checked here: the names users' `-o` flags depend on are unchanged, and the new preference
is registered with its description. The titles themselves are checked at the C ABI
(src/ffi/tests.rs) and reach both glues from there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import run_tshark, seed_capture, tshark_available  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEED = seed_capture()
LIMIT_NAMES = ("max_line", "max_reply_lines", "max_pending_commands", "max_expectations",
               "expectation_timeout", "failed_login_alarm")

pytestmark = pytest.mark.skipif(not tshark_available(), reason="tshark is not installed")


def _home(targets):
    home = Path(tempfile.mkdtemp(prefix="ftplens-prefs-home-"))
    env = dict(os.environ, HOME=str(home))
    for t in targets:
        p = subprocess.run(["make", t], cwd=ROOT, env=env, capture_output=True, text=True)
        assert p.returncode == 0, f"make {t} failed:\n{p.stderr[-4000:]}"
    for d, _, files in os.walk(home):
        os.chmod(d, 0o755)
        for f in files:
            os.chmod(os.path.join(d, f), 0o644)
    return home


@pytest.fixture(scope="module", params=["c", "lua"])
def home(request):
    """A HOME with only the C plugin, or only the Lua fallback."""
    h = _home(["plugin", "install-plugin"] if request.param == "c" else ["install-lua"])
    yield h
    shutil.rmtree(h, ignore_errors=True)


@pytest.mark.parametrize("report", ["defaultprefs", "currentprefs"])
def test_preference_names_stay_and_hide_passwords_is_registered(home, report):
    out = run_tshark(None, ["-G", report], home=home, check=True).stdout
    for name in LIMIT_NAMES:
        assert "#ftplens.%s: " % name in out, name
    at = out.index("#ftplens.hide_passwords: FALSE")
    block = out[out.rindex("\n\n", 0, at):at]
    assert "Show each password as stars" in block and "TRUE or FALSE" in block, block
    # The internal-name titles are gone from wherever tshark shows text.
    assert "Limit max_line" not in out


def _tshark(home, args):
    return run_tshark(SEED["path"], ["-n", "-2"] + args, home=home, check=True).stdout


@pytest.mark.parametrize("hide", [False, True])
def test_hide_passwords(home, hide):
    pw, user = SEED["password"], SEED["user"]
    opt = ["-o", "ftplens.hide_passwords:%s" % ("TRUE" if hide else "FALSE")]
    verbose = _tshark(home, opt + ["-V"])
    fields = _tshark(home, opt + ["-T", "fields", "-e", "ftplens.password", "-e", "ftplens.user",
                                  "-e", "ftplens.request.arg", "-e", "_ws.col.Info"])
    passwords = [v for line in fields.splitlines() for v in line.split("\t")[:1] if v]
    assert len(passwords) == 1, fields
    assert user in verbose and user in fields
    if hide:
        for where, text in (("-V", verbose), ("-T fields", fields)):
            assert pw not in text, where
        assert passwords == ["*" * len(pw)]
        assert "PASS " + "*" * len(pw) in fields
    else:
        assert passwords == [pw]
        assert "PASS " + pw in fields and pw in verbose
