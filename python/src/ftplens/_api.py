"""The Pythonic layer over the C ABI: value types, parse_line, Session and events."""

from __future__ import annotations

import ipaddress
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import (
    TYPE_CHECKING,
    Any,
    Dict,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

from ._enums import (
    Anomaly,
    Direction,
    EventKind,
    ExpertGroup,
    ExpertSeverity,
    Family,
    FieldType,
    FrameRole,
    ItemTarget,
    LineKind,
    LoginState,
    Mode,
    Outcome,
    Verdict,
)
from ._lib import (
    AddressError,
    InvalidArgumentError,
    ParseError,
    SessionClosedError,
    check,
    ffi,
    lib,
    string,
)

Bytes = Union[bytes, bytearray, memoryview, str]
HostPort = Union["Endpoint", Tuple[str, int]]

_session_free = lib.ftplens_session_free


def _as_bytes(data: Bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("expected bytes-like or str, got %s" % type(data).__name__)


def _s(value: Any) -> str:
    """A library C string (UTF-8, possibly NULL) as str."""
    return string(value) or ""


_opt_s = string


def _span(ptr: Any, length: int) -> Optional[str]:
    if ptr == ffi.NULL:
        return None
    text: bytes = ffi.unpack(ffi.cast("const char *", ptr), length)
    return text.decode("utf-8", "replace")


# ------------------------------------------------------------------------------------------ values
class Endpoint(NamedTuple):
    """An IP endpoint: ``(host, port)``; compares equal to a plain tuple.

    ``host`` is the dotted or colon text form, or ``None`` when only a port is known (a 229/EPSV
    reply: the data connection goes to the control connection's server address). ``port`` 0 in a
    ``peer`` means "any port".
    """

    host: Optional[str]
    port: int

    @property
    def ip(self) -> Union[ipaddress.IPv4Address, ipaddress.IPv6Address, None]:
        """The host as an :mod:`ipaddress` object, or ``None``."""
        return None if self.host is None else ipaddress.ip_address(self.host)

    @property
    def family(self) -> Family:
        """:class:`Family` of the host (``NONE`` when there is no host)."""
        ip = self.ip
        if ip is None:
            return Family.NONE
        return Family.IPV4 if ip.version == 4 else Family.IPV6

    def __str__(self) -> str:
        if self.host is None:
            return "port %d" % self.port
        if ":" in self.host:
            return "[%s]:%d" % (self.host, self.port)
        return "%s:%d" % (self.host, self.port)


def _endpoint(ep: Any) -> Optional[Endpoint]:
    """ftplens_endpoint -> Endpoint, or None when it carries nothing."""
    family = ep.family
    if family == lib.FTPLENS_FAMILY_IPV4:
        return Endpoint(str(ipaddress.IPv4Address(bytes(ep.addr[0:4]))), ep.port)
    if family == lib.FTPLENS_FAMILY_IPV6:
        return Endpoint(str(ipaddress.IPv6Address(bytes(ep.addr[0:16]))), ep.port)
    if ep.port:
        return Endpoint(None, ep.port)
    return None


def _c_endpoint(value: Optional[HostPort], what: str) -> Any:
    ep = ffi.new("ftplens_endpoint *")
    if value is None:
        return ep
    try:
        host, port = value
        if host is None:
            raise ValueError("no host")
        ip = ipaddress.ip_address(host)
        port = int(port)
    except (TypeError, ValueError) as e:
        raise InvalidArgumentError("%s must be a (host, port) pair with an IP host: %s" % (what, e)) from None
    if not 0 <= port <= 0xFFFF:
        raise InvalidArgumentError("%s port %d out of range" % (what, port))
    packed = ip.packed
    ep.family = lib.FTPLENS_FAMILY_IPV4 if ip.version == 4 else lib.FTPLENS_FAMILY_IPV6
    ep.port = port
    ffi.memmove(ep.addr, packed, len(packed))
    return ep


@dataclass(frozen=True)
class Limits:
    """Session limits; ``None`` (or 0) keeps the library default (see the README, section Limits)."""

    max_line: Optional[int] = None
    max_reply_lines: Optional[int] = None
    max_pending_commands: Optional[int] = None
    max_expectations: Optional[int] = None
    expectation_timeout: Optional[int] = None
    failed_login_alarm: Optional[int] = None

    def _to_c(self) -> Any:
        c = ffi.new("ftplens_limits *")
        for name, _ in ffi.typeof("ftplens_limits").fields:
            value = getattr(self, name, None) or 0
            if not 0 <= value <= 0xFFFFFFFF:
                raise InvalidArgumentError("limit %s=%r out of range" % (name, value))
            setattr(c, name, value)
        return c


# ------------------------------------------------------------------------------------ parse_line
@dataclass(frozen=True)
class ParsedLine:
    """Base of :class:`CommandLine` and :class:`ReplyLine`: the data-channel address fields.

    ``mode`` is the :class:`Mode` of an address-carrying line (PORT, EPRT, LPRT, 227, 228, 229) and
    ``Mode.NONE`` otherwise; ``endpoint`` is the advertised data endpoint (host ``None`` for 229);
    ``arithmetic`` explains it (``"192.168.1.109:26758 (104*256+134)"``); ``address_error`` is set when
    the line should carry an address but it is malformed (``endpoint`` is then ``None``).
    """

    mode: Mode
    endpoint: Optional[Endpoint]
    arithmetic: str
    address_error: Optional[str]

    def require_endpoint(self) -> Endpoint:
        """The data endpoint, or :class:`AddressError` if the line carries none or a malformed one."""
        if self.endpoint is None:
            raise AddressError(self.address_error or "the line carries no data-channel address")
        return self.endpoint


@dataclass(frozen=True)
class CommandLine(ParsedLine):
    """A client command. ``verb`` is as sent (case preserved); ``arg`` is ``None`` when absent."""

    verb: str
    arg: Optional[str]
    verb_known: bool

    @property
    def kind(self) -> LineKind:
        return LineKind.COMMAND


@dataclass(frozen=True)
class ReplyLine(ParsedLine):
    """A server reply line. ``code`` is ``None`` when the line has no valid code; ``continued`` is
    true on the first line of a multi-line reply (``"NNN-"``)."""

    code: Optional[int]
    continued: bool
    text: str
    reply_class: str
    reply_category: str
    reply_meaning: str

    @property
    def kind(self) -> LineKind:
        return LineKind.REPLY


def _parse(data: bytes, direction: int) -> Union[CommandLine, ReplyLine]:
    ptr = ffi.new("ftplens_line *")
    check(lib.ftplens_line_parse(data, len(data), direction, ptr), "ftplens_line_parse")
    out = ptr[0]
    address = dict(
        mode=Mode(out.mode),
        endpoint=_endpoint(out.endpoint),
        arithmetic=_s(out.arithmetic),
        address_error=_s(out.address_error) or None,
    )
    if address["address_error"]:
        address["endpoint"] = None
    if out.kind == lib.FTPLENS_LINE_COMMAND:
        return CommandLine(
            verb=_span(out.verb, out.verb_len) or "",
            arg=_span(out.arg, out.arg_len),
            verb_known=bool(out.verb_known),
            **address,  # type: ignore[arg-type]
        )
    return ReplyLine(
        code=out.code or None,
        continued=bool(out.continued),
        text=_span(out.text, out.text_len) or "",
        reply_class=_s(out.reply_class),
        reply_category=_s(out.reply_category),
        reply_meaning=_s(out.reply_meaning),
        **address,  # type: ignore[arg-type]
    )


def parse_line(line: Bytes, direction: Optional[Direction] = None) -> Union[CommandLine, ReplyLine]:
    """Parse one FTP line (with or without its CRLF) without any session.

    ``direction`` says whether it is a command (``Direction.TO_SERVER``) or a reply
    (``Direction.TO_CLIENT``); by default a line starting with a digit is tried as a reply first, any
    other as a command first, then the other way round.

    >>> parse_line(b"227 Entering Passive Mode (192,168,1,109,104,134).").endpoint
    Endpoint(host='192.168.1.109', port=26758)

    Raises :class:`ParseError` (a ``ValueError``) when the bytes are not an FTP line.
    """
    data = _as_bytes(line)
    if direction is not None:
        try:
            d = Direction(direction)
        except ValueError:
            raise InvalidArgumentError("invalid direction %r" % (direction,)) from None
        return _parse(data, d)
    first = data.lstrip()[:1]
    order = (
        (lib.FTPLENS_DIR_TO_CLIENT, lib.FTPLENS_DIR_TO_SERVER)
        if first.isdigit()
        else (lib.FTPLENS_DIR_TO_SERVER, lib.FTPLENS_DIR_TO_CLIENT)
    )
    try:
        return _parse(data, order[0])
    except ParseError:
        pass
    try:
        return _parse(data, order[1])
    except ParseError:
        raise ParseError("not an FTP command or reply: %r" % (data[:80],), lib.FTPLENS_ERR_PARSE) from None


def parse_endpoint(line: Bytes, direction: Optional[Direction] = None) -> Endpoint:
    """The data endpoint a PORT/EPRT/LPRT command or 227/228/229 reply advertises.

    Raises :class:`ParseError` if the line is not FTP and :class:`AddressError` if it carries no
    address or a malformed one (an out-of-range number, a bad delimiter...).
    """
    return parse_line(line, direction).require_endpoint()


def heuristic(data: Bytes) -> Verdict:
    """Guess from the first bytes one side of a TCP connection sent whether it is an FTP server, an
    FTP client, not FTP, or too short to tell."""
    b = _as_bytes(data)
    return Verdict(lib.ftplens_heuristic(b, len(b)))


def complete_prefix(data: Bytes, max_line: int = 0) -> int:
    """Length of the longest prefix of ``data`` made only of complete lines (see the C docs)."""
    b = _as_bytes(data)
    return int(lib.ftplens_complete_prefix(b, len(b), max_line))


# ------------------------------------------------------------------------------------------ events
@dataclass(frozen=True)
class Event:
    """Base of all events: where and when the line that caused it was seen.

    ``line_offset``/``line_length`` span that line in the buffer passed to the last feed (a line that
    began in an earlier feed starts at 0; events from :meth:`Session.finish` have length 0).
    """

    kind: EventKind
    direction: Direction
    frame: int
    ts: float
    line_offset: int
    line_length: int


@dataclass(frozen=True)
class CommandEvent(Event):
    """A client command: ``command`` is the verb as sent, ``arg`` the argument ("" if none)."""

    command: str
    arg: str


@dataclass(frozen=True)
class ReplyEvent(Event):
    """A complete (possibly multi-line) reply, paired with the command it answers.

    ``response_time`` is ``None`` and ``request_frame`` 0 when no command was waiting.
    """

    code: int
    text: str
    reply_lines: int
    request_frame: int
    response_time: Optional[float]
    request_command: str


@dataclass(frozen=True)
class LoginEvent(Event):
    """A login step: ``password`` is ``None`` until PASS is seen."""

    user: str
    password: Optional[str]
    anonymous: bool
    state: LoginState
    failures: int


@dataclass(frozen=True)
class DataExpectedEvent(Event):
    """A predicted data channel (PORT/PASV/EPRT/EPSV/LPRT/LPSV), or its expiry at the end.

    ``data`` is the advertised listener, ``alt_data`` the control server address on the same port when
    it differs (NAT), ``peer`` the side that will connect (port 0 = any port). ``outcome`` is
    ``Outcome.EXPIRED`` when a prediction closes unused, else ``Outcome.NONE``.
    """

    channel_id: int
    mode: Mode
    data: Optional[Endpoint]
    alt_data: Optional[Endpoint]
    peer: Optional[Endpoint]
    arithmetic: str
    outcome: Outcome


@dataclass(frozen=True)
class _TransferEvent(Event):
    channel_id: int
    mode: Mode
    command: str
    arg: str
    path: str
    transfer_type: str
    rest_offset: int
    setup_frame: int
    command_frame: int
    size: Optional[int]
    data_tls: bool


@dataclass(frozen=True)
class TransferStartedEvent(_TransferEvent):
    """A transfer command bound to a data channel: ``command`` is the verb (RETR, STOR, LIST...),
    ``path`` the argument resolved against the known cwd, ``size`` ``None`` if unknown."""


@dataclass(frozen=True)
class TransferEndedEvent(_TransferEvent):
    """The end of a transfer with its :class:`Outcome`."""

    outcome: Outcome


@dataclass(frozen=True)
class TlsUpgradeEvent(Event):
    """AUTH accepted: the rest of the control connection is TLS. ``mechanism`` is the AUTH argument."""

    mechanism: str


@dataclass(frozen=True)
class AnomalyEvent(Event):
    """Something suspicious or malformed: ``anomaly`` with its stable ``name`` and a ``detail``."""

    anomaly: Union[Anomaly, int]
    name: str
    detail: str


@dataclass(frozen=True)
class DataProtectedEvent(Event):
    """PROT P accepted: later data channels carry TLS."""


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event kind this version of the package does not know (a newer library)."""


def _enum(cls: Any, value: int) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


def _event(e: Any) -> Event:
    kind = e.kind
    base: Dict[str, Any] = dict(
        direction=_enum(Direction, e.direction),
        frame=e.frame,
        ts=e.ts,
        line_offset=e.line_offset,
        line_length=e.line_length,
    )
    if kind == lib.FTPLENS_EVENT_COMMAND:
        return CommandEvent(EventKind.COMMAND, command=_s(e.command), arg=_s(e.arg), **base)
    if kind == lib.FTPLENS_EVENT_REPLY:
        return ReplyEvent(
            EventKind.REPLY,
            code=e.code,
            text=_s(e.text),
            reply_lines=e.reply_lines,
            request_frame=e.request_frame,
            response_time=None if e.response_time < 0 else e.response_time,
            request_command=_s(e.request_command),
            **base,
        )
    if kind == lib.FTPLENS_EVENT_LOGIN:
        return LoginEvent(
            EventKind.LOGIN,
            user=_s(e.user),
            password=_opt_s(e.password),
            anonymous=bool(e.anonymous),
            state=_enum(LoginState, e.login_state),
            failures=e.failures,
            **base,
        )
    if kind == lib.FTPLENS_EVENT_DATA_EXPECTED:
        return DataExpectedEvent(
            EventKind.DATA_EXPECTED,
            channel_id=e.channel_id,
            mode=_enum(Mode, e.mode),
            data=_endpoint(e.data),
            alt_data=_endpoint(e.alt_data),
            peer=_endpoint(e.peer),
            arithmetic=_s(e.arithmetic),
            outcome=_enum(Outcome, e.outcome),
            **base,
        )
    if kind in (lib.FTPLENS_EVENT_TRANSFER_STARTED, lib.FTPLENS_EVENT_TRANSFER_ENDED):
        transfer: Dict[str, Any] = dict(
            channel_id=e.channel_id,
            mode=_enum(Mode, e.mode),
            command=_s(e.command),
            arg=_s(e.arg),
            path=_s(e.path),
            transfer_type=_s(e.transfer_type),
            rest_offset=e.rest_offset,
            setup_frame=e.setup_frame,
            command_frame=e.command_frame,
            size=None if e.size < 0 else e.size,
            data_tls=bool(e.data_tls),
        )
        if kind == lib.FTPLENS_EVENT_TRANSFER_STARTED:
            return TransferStartedEvent(EventKind.TRANSFER_STARTED, **transfer, **base)
        return TransferEndedEvent(
            EventKind.TRANSFER_ENDED, outcome=_enum(Outcome, e.outcome), **transfer, **base
        )
    if kind == lib.FTPLENS_EVENT_TLS_UPGRADE:
        return TlsUpgradeEvent(EventKind.TLS_UPGRADE, mechanism=_s(e.text), **base)
    if kind == lib.FTPLENS_EVENT_ANOMALY:
        return AnomalyEvent(
            EventKind.ANOMALY,
            anomaly=_enum(Anomaly, e.anomaly),
            name=anomaly_name(e.anomaly),
            detail=_s(e.text),
            **base,
        )
    if kind == lib.FTPLENS_EVENT_DATA_PROTECTED:
        return DataProtectedEvent(EventKind.DATA_PROTECTED, **base)
    return UnknownEvent(kind, **base)


# ------------------------------------------------------------------------------------ registries
@lru_cache(maxsize=None)
def anomaly_name(anomaly: int) -> str:
    """The stable snake_case name of an anomaly (``"bounce"``...). Raises InvalidArgumentError if
    out of range."""
    name = lib.ftplens_anomaly_name(int(anomaly))
    if name == ffi.NULL:
        raise InvalidArgumentError("anomaly %r out of range" % (anomaly,))
    return _s(name)


@dataclass(frozen=True)
class FieldInfo:
    """One entry of the dissector field registry."""

    index: int
    abbrev: str
    name: str
    blurb: str
    type: Union[FieldType, int]
    frame_role: Union[FrameRole, int]
    data_protocol: bool


@dataclass(frozen=True)
class ExpertInfo:
    """One entry of the expert-info registry."""

    index: int
    abbrev: str
    summary: str
    group: Union[ExpertGroup, int]
    severity: Union[ExpertSeverity, int]


@lru_cache(maxsize=None)
def _fields() -> Tuple[FieldInfo, ...]:
    out = []
    info = ffi.new("ftplens_field_info *")
    for i in range(lib.ftplens_field_count()):
        check(lib.ftplens_field_get(i, info), "ftplens_field_get")
        out.append(
            FieldInfo(
                i,
                _s(info.abbrev),
                _s(info.name),
                _s(info.blurb),
                _enum(FieldType, info.type),
                _enum(FrameRole, info.frame_role),
                bool(info.data_protocol),
            )
        )
    return tuple(out)


def fields() -> List[FieldInfo]:
    """The dissector field registry, in index order."""
    return list(_fields())


@lru_cache(maxsize=None)
def _experts() -> Tuple[ExpertInfo, ...]:
    out = []
    info = ffi.new("ftplens_expert_info *")
    for i in range(lib.ftplens_expert_count()):
        check(lib.ftplens_expert_get(i, info), "ftplens_expert_get")
        out.append(
            ExpertInfo(
                i,
                _s(info.abbrev),
                _s(info.summary),
                _enum(ExpertGroup, info.group),
                _enum(ExpertSeverity, info.severity),
            )
        )
    return tuple(out)


def experts() -> List[ExpertInfo]:
    """The expert-info registry, in index order."""
    return list(_experts())


@dataclass(frozen=True)
class Item:
    """One dissector tree item (see ``ftplens_item`` in the header)."""

    target: Union[ItemTarget, int]
    target_frame: int
    channel_id: int
    field: int
    abbrev: str
    depth: int
    offset: int
    length: int
    generated: bool
    uint_value: int
    time_value: float
    string_value: Optional[str]
    addr: bytes
    expert: Optional[int]
    expert_message: Optional[str]


# ----------------------------------------------------------------------------------------- session
class Session:
    """One FTP control connection.

    Feed it the TCP payload of each direction in stream order; each call returns the events the bytes
    produced, as dataclasses (:class:`CommandEvent`, :class:`LoginEvent`, :class:`DataExpectedEvent`...).
    Lines may be cut anywhere across feeds.

    >>> s = Session(client=("192.168.1.106", 50000), server=("192.168.1.109", 21))
    >>> [type(e).__name__ for e in s.feed(Direction.TO_SERVER, b"USER anonymous\\r\\n")]
    ['CommandEvent', 'LoginEvent']

    A session is safe to share between threads (calls are serialised by a lock), but feeding it from
    several threads at once makes the stream order undefined; use one session per connection.
    Different sessions run in parallel (cffi releases the GIL during library calls).

    Use it as a context manager, or call :meth:`close`, to free the native session promptly.
    """

    def __init__(
        self,
        client: Optional[HostPort] = None,
        server: Optional[HostPort] = None,
        *,
        limits: Optional[Limits] = None,
    ) -> None:
        self._lock = threading.Lock()
        self._handle: Any = None
        config = ffi.new("ftplens_session_config *")
        # Struct assignment copies: the temporaries may go once copied.
        config.client = _c_endpoint(client, "client")[0]
        config.server = _c_endpoint(server, "server")[0]
        config.limits = (limits or Limits())._to_c()[0]
        handle = lib.ftplens_session_new(config)
        if handle == ffi.NULL:
            raise InvalidArgumentError("ftplens_session_new refused the configuration")
        self._handle = handle
        self._frame = 0
        self._ts = 0.0
        self._event = ffi.new("ftplens_event *")
        self._count = ffi.new("size_t *")

    # -- lifetime
    def close(self) -> None:
        """Free the native session. Further use raises :class:`SessionClosedError`. Idempotent."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle:
                _session_free(handle)

    @property
    def closed(self) -> bool:
        return self._handle is None

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle and _session_free is not None:
            self._handle = None
            _session_free(handle)

    def _live(self) -> Any:
        if self._handle is None:
            raise SessionClosedError("the session is closed")
        return self._handle

    def _stamp(self, frame: Optional[int], ts: Optional[float]) -> Tuple[int, float]:
        self._frame = self._frame + 1 if frame is None else int(frame)
        if ts is not None:
            self._ts = float(ts)
        return self._frame, self._ts

    def _collect(self, handle: Any) -> List[Event]:
        out = []
        ev = self._event
        for i in range(self._count[0]):
            check(lib.ftplens_session_event(handle, i, ev), "ftplens_session_event")
            out.append(_event(ev))
        return out

    # -- feeding
    def feed(
        self,
        direction: Direction,
        data: Bytes,
        frame: Optional[int] = None,
        ts: Optional[float] = None,
    ) -> List[Event]:
        """Feed bytes of one direction and return the events they produced.

        ``direction`` is ``Direction.TO_SERVER`` (commands) or ``Direction.TO_CLIENT`` (replies).
        ``frame`` is your packet number (default: one more than the last), ``ts`` its time in seconds
        (default: the last one given, initially 0.0); both are copied into the events.
        """
        try:
            d = Direction(direction)
        except ValueError:
            raise InvalidArgumentError("invalid direction %r" % (direction,)) from None
        b = _as_bytes(data)
        with self._lock:
            handle = self._live()
            frame_no, stamp = self._stamp(frame, ts)
            check(
                lib.ftplens_session_feed(handle, d, b, len(b), frame_no, stamp, self._count),
                "ftplens_session_feed",
            )
            return self._collect(handle)

    def finish(self, frame: Optional[int] = None, ts: Optional[float] = None) -> List[Event]:
        """The connection closed: close pending transfers and predictions, return their events."""
        with self._lock:
            handle = self._live()
            frame_no, stamp = self._stamp(frame, ts)
            check(
                lib.ftplens_session_finish(handle, frame_no, stamp, self._count),
                "ftplens_session_finish",
            )
            return self._collect(handle)

    def items(self) -> List[Item]:
        """The dissector items of the last feed or finish."""
        with self._lock:
            handle = self._live()
            items = ffi.new("const ftplens_item **")
            n = ffi.new("size_t *")
            check(lib.ftplens_session_items(handle, items, n), "ftplens_session_items")
            registry = _fields()
            out = []
            for i in range(n[0]):
                it = items[0][i]
                out.append(
                    Item(
                        target=_enum(ItemTarget, it.target),
                        target_frame=it.target_frame,
                        channel_id=it.channel_id,
                        field=it.field,
                        abbrev=registry[it.field].abbrev if it.field < len(registry) else "",
                        depth=it.depth,
                        offset=it.offset,
                        length=it.length,
                        generated=bool(it.generated),
                        uint_value=it.uint_value,
                        time_value=it.time_value,
                        string_value=_opt_s(it.string_value),
                        addr=bytes(it.addr[0:16]),
                        expert=None if it.expert == lib.FTPLENS_NO_EXPERT else it.expert,
                        expert_message=_opt_s(it.expert_message),
                    )
                )
            return out

    @property
    def summary(self) -> str:
        """A one-line summary of the last feed, for an Info column ("" before any feed)."""
        with self._lock:
            return _s(lib.ftplens_session_summary(self._live()))


EVENT_CLASSES: Dict[EventKind, Type[Event]] = {
    EventKind.COMMAND: CommandEvent,
    EventKind.REPLY: ReplyEvent,
    EventKind.LOGIN: LoginEvent,
    EventKind.DATA_EXPECTED: DataExpectedEvent,
    EventKind.TRANSFER_STARTED: TransferStartedEvent,
    EventKind.TRANSFER_ENDED: TransferEndedEvent,
    EventKind.TLS_UPGRADE: TlsUpgradeEvent,
    EventKind.ANOMALY: AnomalyEvent,
    EventKind.DATA_PROTECTED: DataProtectedEvent,
}


def feed_all(session: Session, chunks: Sequence[Tuple[Direction, Bytes]]) -> List[Event]:
    """Convenience: feed ``(direction, data)`` chunks in order, then finish; return all events."""
    events: List[Event] = []
    for direction, data in chunks:
        events.extend(session.feed(direction, data))
    events.extend(session.finish())
    return events
