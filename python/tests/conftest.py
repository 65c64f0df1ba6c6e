"""Shared data for the ftplens Python tests: the seed session."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Tuple

import pytest

import ftplens
from ftplens import Direction

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # for the pcapgen helper

CLIENT = ("192.168.1.106", 50102)
SERVER = ("192.168.1.109", 21)
DATA = ("192.168.1.109", 26758)  # 104*256+134

C, S = Direction.TO_SERVER, Direction.TO_CLIENT

# The seed session: USER/PASS login, PASV answered by 227 (192,168,1,109,104,134), RETR over it.
SEED: List[Tuple[Direction, bytes]] = [
    (S, b"220 (vsFTPd 3.0.3)\r\n"),
    (C, b"USER ftpuser\r\n"),
    (S, b"331 Please specify the password.\r\n"),
    (C, b"PASS s3cret\r\n"),
    (S, b"230 Login successful.\r\n"),
    (C, b"TYPE I\r\n"),
    (S, b"200 Switching to Binary mode.\r\n"),
    (C, b"PASV\r\n"),
    (S, b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n"),
    (C, b"RETR readme.txt\r\n"),
    (S, b"150 Opening BINARY mode data connection for readme.txt (1024 bytes).\r\n"),
    (S, b"226 Transfer complete.\r\n"),
    (C, b"QUIT\r\n"),
    (S, b"221 Goodbye.\r\n"),
]
# Frame numbers when each SEED step is fed as its own frame, starting at 1.
FRAME_OF = {data.split(b" ")[0].strip(): i + 1 for i, (_, data) in enumerate(SEED)}


def run_seed(session: ftplens.Session) -> List[ftplens.Event]:
    events: List[ftplens.Event] = []
    for frame, (direction, data) in enumerate(SEED, start=1):
        events.extend(session.feed(direction, data, frame=frame, ts=frame * 0.5))
    events.extend(session.finish(frame=len(SEED) + 1, ts=(len(SEED) + 1) * 0.5))
    return events


@pytest.fixture
def seed_events() -> List[ftplens.Event]:
    with ftplens.Session(client=CLIENT, server=SERVER) as s:
        return run_seed(s)
