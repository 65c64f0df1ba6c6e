"""The checkout these tests run from: its root and its ``ftplens`` command."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]


def cli() -> Optional[str]:
    """The ftplens command of this checkout: $FTPLENS_BIN, target/{release,debug}, then PATH."""
    env = os.environ.get("FTPLENS_BIN")
    if env:
        return env
    for build in ("release", "debug"):
        path = REPO / "target" / build / "ftplens"
        if path.is_file():
            return str(path)
    return shutil.which("ftplens")
