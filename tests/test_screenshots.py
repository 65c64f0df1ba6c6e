"""scripts/screenshots.sh drives the real Wireshark GUI. Every picture the tutorial (English and
Chinese) shows is in docs/img and is made by the script; one picture (03-pasv), made into a
temporary folder, must be a drawn window of the expected size that shows the 227's arithmetic in the
expanded ftplens tree. (All sixteen pictures take a few minutes: `bash scripts/screenshots.sh`.)"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("Xvfb", "wireshark", "xdotool", "import", "convert")
TUTORIALS = ("docs/tutorial.md", "docs/tutorial.zh-CN.md")


def pictures_shown(tutorial: str) -> list[str]:
    text = (ROOT / tutorial).read_text(encoding="utf-8")
    return re.findall(r"!\[[^\]]*\]\(img/([^)]+)\.png\)", text)


def pictures_made() -> set[str]:
    """The NAME of each `shot NAME ...` or `dialog NAME ...` call in the script."""
    script = (ROOT / "scripts/screenshots.sh").read_text(encoding="utf-8")
    return set(re.findall(r"^(?:shot|dialog) +(\S+)", script, re.MULTILINE))


@pytest.mark.parametrize("tutorial", TUTORIALS)
def test_every_picture_of_the_tutorial_is_made_by_the_script(tutorial):
    shown = pictures_shown(tutorial)
    assert len(shown) >= 16, shown
    made = pictures_made()
    assert [p for p in shown if p not in made] == []
    assert [p for p in shown if not (ROOT / "docs/img" / (p + ".png")).is_file()] == []


def test_both_tutorials_show_the_same_pictures():
    assert sorted(set(pictures_shown(TUTORIALS[0]))) == sorted(set(pictures_shown(TUTORIALS[1])))


def test_one_screenshot(tmp_path):
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip("no display tools: %s missing (apt-get install wireshark xvfb xdotool "
                    "imagemagick)" % ", ".join(missing))
    env = dict(os.environ, OUT=str(tmp_path))
    p = subprocess.run(["bash", "scripts/screenshots.sh", "03"], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    png = tmp_path / "03-pasv.png"
    assert png.is_file(), p.stdout + p.stderr
    size = subprocess.run(["identify", "-format", "%w %h", str(png)], capture_output=True,
                          text=True, check=True).stdout
    assert size == "1200 780"
    # A drawn window is mostly light (an unpainted one is black).
    mean = float(subprocess.run(["convert", str(png), "-format", "%[fx:mean]", "info:"],
                                capture_output=True, text=True, check=True).stdout)
    assert mean > 0.5, mean
    # The expanded ftplens tree reaches well below the five protocol rows: the band under them
    # (y 560-710) holds text. It is blank when the tree stays collapsed (measured on the other
    # pictures: 0.0; with the tree expanded: 0.024).
    dark = float(subprocess.run(
        ["convert", str(png), "-crop", "1200x150+0+560", "-threshold", "50%", "-negate",
         "-format", "%[fx:mean]", "info:"], capture_output=True, text=True, check=True).stdout)
    assert dark > 0.01, dark
