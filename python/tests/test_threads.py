"""Threads: sessions used from several threads at once, and stateless calls in parallel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import List

import ftplens
from ftplens import CommandEvent, Direction, Session

from conftest import CLIENT, SERVER, run_seed

THREADS = 8
ROUNDS = 200


def test_one_session_per_thread() -> None:
    with Session(client=CLIENT, server=SERVER) as s:
        reference = run_seed(s)
    barrier = threading.Barrier(THREADS)

    def worker(_: int) -> int:
        barrier.wait()
        ok = 0
        for _ in range(ROUNDS):
            with Session(client=CLIENT, server=SERVER) as s:
                if run_seed(s) == reference:
                    ok += 1
        return ok

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    assert results == [ROUNDS] * THREADS


def test_long_lived_sessions_interleaved_across_threads() -> None:
    """Each session stays in one thread, but many are alive and fed at the same time."""
    sessions = [Session(client=CLIENT, server=SERVER) for _ in range(THREADS)]
    counts: List[int] = [0] * THREADS
    barrier = threading.Barrier(THREADS)

    def worker(i: int) -> None:
        barrier.wait()
        s = sessions[i]
        for k in range(2_000):
            for e in s.feed(Direction.TO_SERVER, b"NOOP %d\r\n" % k):
                counts[i] += isinstance(e, CommandEvent)
            s.feed(Direction.TO_CLIENT, b"200 NOOP ok\r\n")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in sessions:
        s.close()
    assert counts == [2_000] * THREADS


def test_shared_session_is_serialised() -> None:
    """Sharing one session between threads is not a good idea (stream order is lost), but it must not
    crash or corrupt the session: the Python object serialises calls."""
    with Session() as s:
        barrier = threading.Barrier(THREADS)

        def worker(_: int) -> int:
            barrier.wait()
            seen = 0
            for _ in range(500):
                seen += sum(isinstance(e, CommandEvent) for e in s.feed(Direction.TO_SERVER, b"NOOP\r\n"))
            return seen

        with ThreadPoolExecutor(THREADS) as pool:
            total = sum(pool.map(worker, range(THREADS)))
        assert total == THREADS * 500


def test_parse_line_from_many_threads() -> None:
    line = b"227 Entering Passive Mode (192,168,1,109,104,134)."

    def worker(_: int) -> bool:
        return all(ftplens.parse_line(line).endpoint == ("192.168.1.109", 26758) for _ in range(5_000))

    with ThreadPoolExecutor(THREADS) as pool:
        assert all(pool.map(worker, range(THREADS)))


def test_close_while_other_threads_feed() -> None:
    """Closing a session another thread is feeding either lets the feed finish first or makes it
    raise SessionClosedError: never a use-after-free."""
    for _ in range(20):
        s = Session()
        errors: List[BaseException] = []

        def feeder() -> None:
            try:
                for _ in range(1_000):
                    s.feed(Direction.TO_SERVER, b"NOOP\r\n")
            except ftplens.SessionClosedError:
                pass
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        t = threading.Thread(target=feeder)
        t.start()
        s.close()
        t.join()
        assert not errors
