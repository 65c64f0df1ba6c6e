"""ftplens: FTP traffic analysis for Python, over the ftplens C ABI (``include/ftplens.h``).

Stateless parsing::

    >>> import ftplens
    >>> line = ftplens.parse_line(b"227 Entering Passive Mode (192,168,1,109,104,134).")
    >>> line.endpoint
    Endpoint(host='192.168.1.109', port=26758)
    >>> line.endpoint == ("192.168.1.109", 26758)
    True

Sessions (one per control connection) turn the bytes of both directions into events::

    with ftplens.Session(client=("192.168.1.106", 50000), server=("192.168.1.109", 21)) as s:
        for event in s.feed(ftplens.Direction.TO_SERVER, b"USER anonymous\\r\\n"):
            print(event)

Capture files, as the ``ftplens log`` command reads them::

    for record in ftplens.analyze("capture.pcap"):
        if record["type"] == "transfer":
            print(record["path"], record["bytes"], record.get("sha256"))

Errors are exceptions derived from :class:`FtplensError`. Every enum (:class:`Direction`,
:class:`EventKind`, :class:`Anomaly`...) takes its values from the C header, the single source of the ABI.
"""

from __future__ import annotations

from ._api import (
    EVENT_CLASSES,
    AnomalyEvent,
    CommandEvent,
    CommandLine,
    DataExpectedEvent,
    DataProtectedEvent,
    Endpoint,
    Event,
    ExpertInfo,
    FieldInfo,
    Item,
    Limits,
    LoginEvent,
    ParsedLine,
    ReplyEvent,
    ReplyLine,
    Session,
    TlsUpgradeEvent,
    TransferEndedEvent,
    TransferStartedEvent,
    UnknownEvent,
    anomaly_name,
    complete_prefix,
    experts,
    feed_all,
    fields,
    heuristic,
    parse_endpoint,
    parse_line,
)
from ._capture import (
    Analysis,
    CaptureError,
    PartialCaptureWarning,
    analyze,
    arrow_schema,
    records_to_arrow,
    records_to_pandas,
)
from ._enums import (  # the enums, bound to the #defines of include/ftplens.h
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
    Result,
    Verdict,
)
from ._records import (
    AnomalyRecord,
    FtpRecord,
    ListingEntry,
    Record,
    SessionRecord,
    TransferRecord,
)
from ._lib import (
    AddressError,
    FtplensError,
    InternalError,
    InvalidArgumentError,
    NullArgumentError,
    ParseError,
    PoisonedSessionError,
    SessionClosedError,
    lib as _cdll,
    library_path,
    string as _string,
)

#: ABI version of the header this package was built from; the loaded library is checked against it.
ABI_VERSION: int = _cdll.FTPLENS_ABI_VERSION

#: Shorthands for the two directions.
TO_SERVER = Direction.TO_SERVER
TO_CLIENT = Direction.TO_CLIENT


def library_version() -> str:
    """The version of the loaded libftplens (the crate version, e.g. ``"0.1.0"``)."""
    return _string(_cdll.ftplens_version()) or ""


#: The package version: the crate version of the library it wraps (Cargo.toml is the single source).
__version__: str = library_version()

__all__ = [
    "ABI_VERSION",
    "Analysis",
    "AnomalyRecord",
    "CaptureError",
    "FtpRecord",
    "ListingEntry",
    "PartialCaptureWarning",
    "Record",
    "SessionRecord",
    "TransferRecord",
    "analyze",
    "arrow_schema",
    "records_to_arrow",
    "records_to_pandas",
    "AddressError",
    "Anomaly",
    "AnomalyEvent",
    "CommandEvent",
    "CommandLine",
    "DataExpectedEvent",
    "DataProtectedEvent",
    "Direction",
    "EVENT_CLASSES",
    "Endpoint",
    "Event",
    "EventKind",
    "ExpertGroup",
    "ExpertInfo",
    "ExpertSeverity",
    "Family",
    "FieldInfo",
    "FieldType",
    "FrameRole",
    "FtplensError",
    "InternalError",
    "InvalidArgumentError",
    "Item",
    "ItemTarget",
    "Limits",
    "LineKind",
    "LoginEvent",
    "LoginState",
    "Mode",
    "NullArgumentError",
    "Outcome",
    "ParseError",
    "ParsedLine",
    "PoisonedSessionError",
    "ReplyEvent",
    "ReplyLine",
    "Result",
    "Session",
    "SessionClosedError",
    "TO_CLIENT",
    "TO_SERVER",
    "TlsUpgradeEvent",
    "TransferEndedEvent",
    "TransferStartedEvent",
    "UnknownEvent",
    "Verdict",
    "anomaly_name",
    "complete_prefix",
    "experts",
    "feed_all",
    "fields",
    "heuristic",
    "library_path",
    "library_version",
    "parse_endpoint",
    "parse_line",
]
