"""Sessions: the seed example, a whole session, feeding in pieces, errors and lifetime."""

from __future__ import annotations

import dataclasses
import gc
from typing import List, Type, TypeVar

import pytest

import ftplens
from ftplens import (
    AnomalyEvent,
    CommandEvent,
    DataExpectedEvent,
    Direction,
    Event,
    EventKind,
    LoginEvent,
    LoginState,
    Mode,
    Outcome,
    ReplyEvent,
    Session,
    TransferEndedEvent,
    TransferStartedEvent,
)

from conftest import CLIENT, DATA, FRAME_OF, SEED, SERVER, C, S, run_seed

E = TypeVar("E", bound=Event)


def of(events: List[Event], cls: Type[E]) -> List[E]:
    return [e for e in events if isinstance(e, cls)]


def test_seed_login(seed_events: List[Event]) -> None:
    logins = of(seed_events, LoginEvent)
    assert logins, seed_events
    assert all(e.user == "ftpuser" for e in logins)
    final = logins[-1]
    assert final.state is LoginState.SUCCESS
    assert final.password == "s3cret"
    assert not final.anonymous
    assert final.frame == FRAME_OF[b"230"]
    assert final.failures == 0
    # The attempt with USER comes first, before the password is known.
    assert logins[0].state is LoginState.ATTEMPT and logins[0].frame == FRAME_OF[b"USER"]
    assert logins[0].password is None


def test_seed_data_channel(seed_events: List[Event]) -> None:
    (expected,) = [e for e in of(seed_events, DataExpectedEvent) if e.outcome is Outcome.NONE]
    assert expected.mode is Mode.PASV
    assert expected.data == DATA == ("192.168.1.109", 104 * 256 + 134)
    assert expected.arithmetic == "192.168.1.109:26758 (104*256+134)"
    assert expected.frame == FRAME_OF[b"227"]
    assert expected.direction is Direction.TO_CLIENT
    assert expected.peer is not None and expected.peer.host == CLIENT[0]
    assert expected.alt_data is None  # the 227 address is the control server's: no NAT
    assert expected.channel_id == 1


def test_seed_transfer(seed_events: List[Event]) -> None:
    (started,) = of(seed_events, TransferStartedEvent)
    (ended,) = of(seed_events, TransferEndedEvent)
    for t in (started, ended):
        assert t.channel_id == 1  # bound to the 227 channel
        assert t.command == "RETR"
        assert t.arg == "readme.txt"
        assert t.path.endswith("readme.txt")
        assert t.mode is Mode.PASV
        assert t.setup_frame == FRAME_OF[b"227"]
        assert t.command_frame == FRAME_OF[b"RETR"]
        assert t.transfer_type == "I"
        assert not t.data_tls
    assert ended.outcome is Outcome.COMPLETE
    assert ended.frame == FRAME_OF[b"226"]
    assert ended.size in (None, 1024)


def test_seed_commands_and_replies(seed_events: List[Event]) -> None:
    commands = [(e.command, e.arg) for e in of(seed_events, CommandEvent)]
    assert commands == [
        ("USER", "ftpuser"),
        ("PASS", "s3cret"),
        ("TYPE", "I"),
        ("PASV", ""),
        ("RETR", "readme.txt"),
        ("QUIT", ""),
    ]
    replies = of(seed_events, ReplyEvent)
    assert [r.code for r in replies] == [220, 331, 230, 200, 227, 150, 226, 221]
    pasv = next(r for r in replies if r.code == 227)
    assert pasv.request_command == "PASV"
    assert pasv.request_frame == FRAME_OF[b"PASV"]
    assert pasv.response_time == pytest.approx(0.5)
    assert pasv.text == "Entering Passive Mode (192,168,1,109,104,134)."
    assert pasv.reply_lines == 1
    banner = replies[0]
    assert banner.request_frame == 0 and banner.response_time is None
    assert not of(seed_events, AnomalyEvent), of(seed_events, AnomalyEvent)


def test_events_are_frozen_dataclasses(seed_events: List[Event]) -> None:
    for e in seed_events:
        assert dataclasses.is_dataclass(e)
        assert isinstance(e.kind, EventKind)
        assert isinstance(e, ftplens.EVENT_CLASSES[e.kind])
        with pytest.raises(dataclasses.FrozenInstanceError):
            e.frame = 0  # type: ignore[misc]
    assert dataclasses.asdict(seed_events[0])["kind"] == seed_events[0].kind


def test_byte_by_byte_gives_the_same_events() -> None:
    def strip(events: List[Event]) -> List[Event]:
        return [dataclasses.replace(e, line_offset=0, line_length=0) for e in events]

    with Session(client=CLIENT, server=SERVER) as whole:
        reference = run_seed(whole)
    with Session(client=CLIENT, server=SERVER) as s:
        pieces: List[Event] = []
        for frame, (direction, data) in enumerate(SEED, start=1):
            for i in range(len(data)):
                pieces.extend(s.feed(direction, data[i : i + 1], frame=frame, ts=frame * 0.5))
        pieces.extend(s.finish(frame=len(SEED) + 1, ts=(len(SEED) + 1) * 0.5))
    assert strip(pieces) == strip(reference)


def test_line_spans() -> None:
    with Session() as s:
        buf = b"USER a\r\nPASS b\r\n"
        events = of(s.feed(C, buf), CommandEvent)
        assert [(e.line_offset, e.line_length) for e in events][0] == (0, 8)
        assert buf[events[1].line_offset :].startswith(b"PASS b")


def test_whole_session_active_mode_failures_and_cwd() -> None:
    """A longer session: a failed login, CWD, PORT (active) with STOR, EPSV with LIST, ABOR."""
    script = [
        (S, b"220-Welcome\r\n220 ready\r\n"),
        (C, b"USER alice\r\n"),
        (S, b"331 Password required\r\n"),
        (C, b"PASS wrong\r\n"),
        (S, b"530 Login incorrect.\r\n"),
        (C, b"USER alice\r\n"),
        (S, b"331 Password required\r\n"),
        (C, b"PASS right\r\n"),
        (S, b"230 Logged in\r\n"),
        (C, b"CWD /pub\r\n"),
        (S, b"250 OK\r\n"),
        (C, b"TYPE A\r\n"),
        (S, b"200 OK\r\n"),
        (C, b"PORT 192,168,1,106,224,89\r\n"),
        (S, b"200 PORT command successful\r\n"),
        (C, b"STOR upload.bin\r\n"),
        (S, b"150 Ok to send data.\r\n"),
        (S, b"226 Transfer complete.\r\n"),
        (C, b"EPSV\r\n"),
        (S, b"229 Entering Extended Passive Mode (|||40001|)\r\n"),
        (C, b"LIST\r\n"),
        (S, b"150 Here comes the directory listing.\r\n"),
        (C, b"ABOR\r\n"),
        (S, b"426 Connection closed; transfer aborted.\r\n"),
        (S, b"226 Closing data connection.\r\n"),
        (C, b"PASV\r\n"),
        (S, b"227 Entering Passive Mode (192,168,1,109,156,66)\r\n"),
    ]
    with Session(client=CLIENT, server=SERVER) as s:
        events: List[Event] = []
        for direction, data in script:
            events.extend(s.feed(direction, data))
        events.extend(s.finish())

    logins = of(events, LoginEvent)
    assert [e.state for e in logins if e.state is not LoginState.ATTEMPT] == [
        LoginState.FAILURE,
        LoginState.SUCCESS,
    ]
    assert logins[-1].failures == 1 and logins[-1].password == "right"

    banner = of(events, ReplyEvent)[0]
    assert banner.code == 220 and banner.reply_lines == 2 and banner.text == "Welcome\nready"

    expected = of(events, DataExpectedEvent)
    port = next(e for e in expected if e.mode is Mode.PORT)
    assert port.data == ("192.168.1.106", 57433)
    epsv = next(e for e in expected if e.mode is Mode.EPSV)
    assert epsv.data is not None and epsv.data.port == 40001
    assert epsv.data.host in (None, SERVER[0])  # the server address, if the session fills it in
    # The last PASV is never used: the prediction is closed (at the latest when the session finishes)
    # as a TransferEndedEvent with outcome EXPIRED and no transfer command.
    last_pasv = next(e for e in expected if e.data == ("192.168.1.109", 156 * 256 + 66))
    unused = [e for e in of(events, TransferEndedEvent) if e.outcome is Outcome.EXPIRED]
    assert [(e.channel_id, e.command, e.setup_frame) for e in unused] == [
        (last_pasv.channel_id, "", last_pasv.frame)
    ]

    ended = {e.command: e for e in of(events, TransferEndedEvent) if e.command}
    assert ended["STOR"].outcome is Outcome.COMPLETE
    assert ended["STOR"].mode is Mode.PORT
    assert ended["STOR"].path == "/pub/upload.bin"
    assert ended["STOR"].transfer_type == "A"
    assert ended["LIST"].outcome in (Outcome.ABORTED, Outcome.FAILED)
    assert ended["LIST"].mode is Mode.EPSV
    assert any(a.anomaly is ftplens.Anomaly.TRANSFER_FAILED for a in of(events, AnomalyEvent))


def test_anomalies_have_names() -> None:
    with Session(client=CLIENT, server=SERVER) as s:
        events = s.feed(C, b"PORT 10,9,9,9,0,25\r\n")  # bounce to a third host, privileged port
    names = {e.name for e in of(events, AnomalyEvent)}
    assert {"bounce", "privileged_port"} <= names
    for a in of(events, AnomalyEvent):
        assert a.name == ftplens.anomaly_name(a.anomaly)
    with pytest.raises(ftplens.InvalidArgumentError):
        ftplens.anomaly_name(10_000)


def test_limits_are_applied() -> None:
    with Session(limits=ftplens.Limits(max_line=64)) as s:
        events = s.feed(C, b"USER " + b"x" * 200 + b"\r\n")
    assert any(
        isinstance(e, AnomalyEvent) and e.anomaly is ftplens.Anomaly.LINE_TOO_LONG for e in events
    ), events


def test_default_frames_count_up() -> None:
    with Session() as s:
        a = s.feed(C, b"NOOP\r\n")
        b = s.feed(S, b"200 ok\r\n", ts=3.0)
    assert a[0].frame == 1 and b[0].frame == 2 and b[0].ts == 3.0


def test_summary_and_items() -> None:
    with Session(client=CLIENT, server=SERVER) as s:
        assert s.summary == ""
        s.feed(C, b"USER anonymous\r\n", frame=4)
        assert "USER" in s.summary
        items = s.items()
        assert items and all(isinstance(i, ftplens.Item) for i in items)
        assert any(i.abbrev.startswith("ftplens.") for i in items)
    registry = ftplens.fields()
    assert registry and len({f.abbrev for f in registry}) == len(registry)
    assert all(isinstance(f.type, ftplens.FieldType) for f in registry)
    assert ftplens.experts() and all(e.abbrev for e in ftplens.experts())


def test_errors() -> None:
    s = Session()
    with pytest.raises(ftplens.InvalidArgumentError):
        s.feed(5, b"USER x\r\n")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        s.feed(C, 42)  # type: ignore[arg-type]
    s.close()
    s.close()  # idempotent
    assert s.closed
    with pytest.raises(ftplens.SessionClosedError):
        s.feed(C, b"USER x\r\n")
    with pytest.raises(ftplens.SessionClosedError):
        s.finish()
    with pytest.raises(ValueError):  # SessionClosedError is a ValueError, like a closed file
        _ = s.summary
    with pytest.raises(ftplens.InvalidArgumentError):
        Session(client=("not an address", 21))
    with pytest.raises(ftplens.InvalidArgumentError):
        Session(server=("10.0.0.1", 70000))


def test_garbage_collected_sessions_are_freed() -> None:
    for _ in range(1000):
        s = Session(client=CLIENT, server=SERVER)
        s.feed(C, b"USER x\r\n")
        del s
    gc.collect()


def test_ipv6_endpoints() -> None:
    with Session(client=("2001:db8::6", 50000), server=("2001:db8::9", 21)) as s:
        events = s.feed(S, b"229 Entering Extended Passive Mode (|||6446|)\r\n")
        (exp,) = of(events, DataExpectedEvent)
        assert exp.mode is Mode.EPSV
        assert exp.data is not None and exp.data.port == 6446
        assert exp.data.host in (None, "2001:db8::9")


def test_version() -> None:
    assert ftplens.__version__ == ftplens.library_version()
    assert ftplens.__version__.count(".") == 2
    assert ftplens.ABI_VERSION >= 1
