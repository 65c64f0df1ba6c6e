"""The enums of the C ABI, each member bound to its ``#define`` in ``include/ftplens.h``.

The values are cffi's reading of the header (``lib.FTPLENS_...``), never numbers typed here; the names
are spelled out so that type checkers and readers see them. ``python/tests/test_abi.py`` checks that
every constant of the header is a member of exactly one enum below (or one of :data:`PLAIN`), so a
constant added to the header cannot be missed.
"""

from __future__ import annotations

import enum
from typing import Dict, Tuple, Type

from ._lib import lib

__all__ = [
    "Result",
    "Direction",
    "Mode",
    "Family",
    "LineKind",
    "Verdict",
    "EventKind",
    "LoginState",
    "Outcome",
    "Anomaly",
    "FieldType",
    "FrameRole",
    "ExpertGroup",
    "ExpertSeverity",
    "ItemTarget",
    "Offer",
    "TcpFlag",
    "Claim",
    "ActionKind",
    "ViewKind",
    "PREFIXES",
    "PLAIN",
]


class Result(enum.IntEnum):
    """``ftplens_result``: its ``#define`` values."""

    OK = lib.FTPLENS_OK
    ERR_NULL_ARGUMENT = lib.FTPLENS_ERR_NULL_ARGUMENT
    ERR_INVALID_ARGUMENT = lib.FTPLENS_ERR_INVALID_ARGUMENT
    ERR_PANIC = lib.FTPLENS_ERR_PANIC
    ERR_POISONED = lib.FTPLENS_ERR_POISONED
    ERR_PARSE = lib.FTPLENS_ERR_PARSE
    END = lib.FTPLENS_END


class Direction(enum.IntEnum):
    """``ftplens_direction``: its ``#define`` values."""

    TO_SERVER = lib.FTPLENS_DIR_TO_SERVER
    TO_CLIENT = lib.FTPLENS_DIR_TO_CLIENT


class Mode(enum.IntEnum):
    """``ftplens_mode``: its ``#define`` values."""

    NONE = lib.FTPLENS_MODE_NONE
    PORT = lib.FTPLENS_MODE_PORT
    PASV = lib.FTPLENS_MODE_PASV
    EPRT = lib.FTPLENS_MODE_EPRT
    EPSV = lib.FTPLENS_MODE_EPSV
    LPRT = lib.FTPLENS_MODE_LPRT
    LPSV = lib.FTPLENS_MODE_LPSV


class Family(enum.IntEnum):
    """``ftplens_family``: its ``#define`` values."""

    NONE = lib.FTPLENS_FAMILY_NONE
    IPV4 = lib.FTPLENS_FAMILY_IPV4
    IPV6 = lib.FTPLENS_FAMILY_IPV6


class LineKind(enum.IntEnum):
    """``ftplens_line_kind``: its ``#define`` values."""

    COMMAND = lib.FTPLENS_LINE_COMMAND
    REPLY = lib.FTPLENS_LINE_REPLY


class Verdict(enum.IntEnum):
    """``ftplens_verdict``: its ``#define`` values."""

    UNSURE = lib.FTPLENS_VERDICT_UNSURE
    NOT_FTP = lib.FTPLENS_VERDICT_NOT_FTP
    SERVER = lib.FTPLENS_VERDICT_SERVER
    CLIENT = lib.FTPLENS_VERDICT_CLIENT


class EventKind(enum.IntEnum):
    """``ftplens_event_kind``: its ``#define`` values."""

    COMMAND = lib.FTPLENS_EVENT_COMMAND
    REPLY = lib.FTPLENS_EVENT_REPLY
    LOGIN = lib.FTPLENS_EVENT_LOGIN
    DATA_EXPECTED = lib.FTPLENS_EVENT_DATA_EXPECTED
    TRANSFER_STARTED = lib.FTPLENS_EVENT_TRANSFER_STARTED
    TRANSFER_ENDED = lib.FTPLENS_EVENT_TRANSFER_ENDED
    TLS_UPGRADE = lib.FTPLENS_EVENT_TLS_UPGRADE
    ANOMALY = lib.FTPLENS_EVENT_ANOMALY
    DATA_PROTECTED = lib.FTPLENS_EVENT_DATA_PROTECTED


class LoginState(enum.IntEnum):
    """``ftplens_login_state``: its ``#define`` values."""

    ATTEMPT = lib.FTPLENS_LOGIN_ATTEMPT
    SUCCESS = lib.FTPLENS_LOGIN_SUCCESS
    FAILURE = lib.FTPLENS_LOGIN_FAILURE


class Outcome(enum.IntEnum):
    """``ftplens_outcome``: its ``#define`` values."""

    NONE = lib.FTPLENS_OUTCOME_NONE
    COMPLETE = lib.FTPLENS_OUTCOME_COMPLETE
    FAILED = lib.FTPLENS_OUTCOME_FAILED
    ABORTED = lib.FTPLENS_OUTCOME_ABORTED
    UNKNOWN = lib.FTPLENS_OUTCOME_UNKNOWN
    EXPIRED = lib.FTPLENS_OUTCOME_EXPIRED


class Anomaly(enum.IntEnum):
    """``ftplens_anomaly``: its ``#define`` values."""

    NONE = lib.FTPLENS_ANOMALY_NONE
    BOUNCE = lib.FTPLENS_ANOMALY_BOUNCE
    PRIVILEGED_PORT = lib.FTPLENS_ANOMALY_PRIVILEGED_PORT
    NAT_MISMATCH = lib.FTPLENS_ANOMALY_NAT_MISMATCH
    REPEATED_LOGIN_FAILURES = lib.FTPLENS_ANOMALY_REPEATED_LOGIN_FAILURES
    INVALID_REPLY_CODE = lib.FTPLENS_ANOMALY_INVALID_REPLY_CODE
    LINE_TOO_LONG = lib.FTPLENS_ANOMALY_LINE_TOO_LONG
    MALFORMED_ADDRESS = lib.FTPLENS_ANOMALY_MALFORMED_ADDRESS
    TOO_MANY_PENDING = lib.FTPLENS_ANOMALY_TOO_MANY_PENDING
    EXPECTATIONS_FULL = lib.FTPLENS_ANOMALY_EXPECTATIONS_FULL
    REPLY_TOO_LONG = lib.FTPLENS_ANOMALY_REPLY_TOO_LONG
    UNMATCHED_REPLY = lib.FTPLENS_ANOMALY_UNMATCHED_REPLY
    UNKNOWN_COMMAND = lib.FTPLENS_ANOMALY_UNKNOWN_COMMAND
    TRANSFER_FAILED = lib.FTPLENS_ANOMALY_TRANSFER_FAILED


class FieldType(enum.IntEnum):
    """``ftplens_field_type``: its ``#define`` values."""

    NONE = lib.FTPLENS_FT_NONE
    STRING = lib.FTPLENS_FT_STRING
    UINT = lib.FTPLENS_FT_UINT
    BOOL = lib.FTPLENS_FT_BOOL
    FRAME = lib.FTPLENS_FT_FRAME
    RELTIME = lib.FTPLENS_FT_RELTIME
    IPV4 = lib.FTPLENS_FT_IPV4
    IPV6 = lib.FTPLENS_FT_IPV6


class FrameRole(enum.IntEnum):
    """``ftplens_frame_role``: its ``#define`` values."""

    PLAIN = lib.FTPLENS_FRAME_PLAIN
    REQUEST = lib.FTPLENS_FRAME_REQUEST
    RESPONSE = lib.FTPLENS_FRAME_RESPONSE


class ExpertGroup(enum.IntEnum):
    """``ftplens_expert_group``: its ``#define`` values."""

    SECURITY = lib.FTPLENS_GROUP_SECURITY
    PROTOCOL = lib.FTPLENS_GROUP_PROTOCOL
    MALFORMED = lib.FTPLENS_GROUP_MALFORMED
    SEQUENCE = lib.FTPLENS_GROUP_SEQUENCE
    RESPONSE_CODE = lib.FTPLENS_GROUP_RESPONSE_CODE


class ExpertSeverity(enum.IntEnum):
    """``ftplens_expert_severity``: its ``#define`` values."""

    CHAT = lib.FTPLENS_SEVERITY_CHAT
    NOTE = lib.FTPLENS_SEVERITY_NOTE
    WARN = lib.FTPLENS_SEVERITY_WARN
    ERROR = lib.FTPLENS_SEVERITY_ERROR


class ItemTarget(enum.IntEnum):
    """``ftplens_item_target``: its ``#define`` values."""

    FRAME = lib.FTPLENS_TARGET_FRAME
    EARLIER = lib.FTPLENS_TARGET_EARLIER
    CHANNEL = lib.FTPLENS_TARGET_CHANNEL


class Offer(enum.IntEnum):
    """``ftplens_offer``: how a segment reached a dissector (``ftplens_dissector_segment``)."""

    PORT = lib.FTPLENS_OFFER_PORT
    HEURISTIC = lib.FTPLENS_OFFER_HEURISTIC
    EXPECTED = lib.FTPLENS_OFFER_EXPECTED


class TcpFlag(enum.IntEnum):
    """``FTPLENS_TCP_*``: the TCP flags of a segment, as bits of ``ftplens_segment.flags``."""

    SYN = lib.FTPLENS_TCP_SYN
    FIN = lib.FTPLENS_TCP_FIN
    RST = lib.FTPLENS_TCP_RST
    SYN_ACK = lib.FTPLENS_TCP_SYN_ACK
    HIDES_REORDERED = lib.FTPLENS_TCP_HIDES_REORDERED


class Claim(enum.IntEnum):
    """``ftplens_claim``: what a connection is to the dissector."""

    NONE = lib.FTPLENS_CLAIM_NONE
    CONTROL = lib.FTPLENS_CLAIM_CONTROL
    DATA = lib.FTPLENS_CLAIM_DATA
    REJECTED = lib.FTPLENS_CLAIM_REJECTED


class ActionKind(enum.IntEnum):
    """``ftplens_action_kind``: what the dissector asks its host to do."""

    EXPECT = lib.FTPLENS_ACTION_EXPECT
    START_TLS = lib.FTPLENS_ACTION_START_TLS


class ViewKind(enum.IntEnum):
    """``ftplens_view_kind``: what a frame shows."""

    NONE = lib.FTPLENS_VIEW_NONE
    CONTROL = lib.FTPLENS_VIEW_CONTROL
    DATA = lib.FTPLENS_VIEW_DATA


# The prefix each enum's constants share in the header (member = constant minus prefix).
PREFIXES: Dict[Type[enum.IntEnum], str] = {
    Result: "FTPLENS_",
    Direction: "FTPLENS_DIR_",
    Mode: "FTPLENS_MODE_",
    Family: "FTPLENS_FAMILY_",
    LineKind: "FTPLENS_LINE_",
    Verdict: "FTPLENS_VERDICT_",
    EventKind: "FTPLENS_EVENT_",
    LoginState: "FTPLENS_LOGIN_",
    Outcome: "FTPLENS_OUTCOME_",
    Anomaly: "FTPLENS_ANOMALY_",
    FieldType: "FTPLENS_FT_",
    FrameRole: "FTPLENS_FRAME_",
    ExpertGroup: "FTPLENS_GROUP_",
    ExpertSeverity: "FTPLENS_SEVERITY_",
    ItemTarget: "FTPLENS_TARGET_",
    Offer: "FTPLENS_OFFER_",
    TcpFlag: "FTPLENS_TCP_",
    Claim: "FTPLENS_CLAIM_",
    ActionKind: "FTPLENS_ACTION_",
    ViewKind: "FTPLENS_VIEW_",
}

# Constants that are not enum members: the ABI version, a count, a sentinel.
PLAIN: Tuple[str, ...] = ("FTPLENS_ABI_VERSION", "FTPLENS_ANOMALY_COUNT", "FTPLENS_NO_EXPERT")
