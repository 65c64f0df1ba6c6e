"""The records of ``ftplens log``, typed: one ``TypedDict`` per record ``type``.

The records themselves come from the core's serializer (the command's JSON lines), so their keys and
values are the command's by construction. These types describe them for type checkers and give the
tabular schema (pandas, Arrow, Dask): a key the core writes only when it has a value (an absent
password, a reply that never came) is a missing value in a table. ``python/tests/test_capture.py``
checks every key and value type the core wrote over the test captures against these declarations.

Key names follow Zeek's ftp.log (``id.orig_h``, ``data_channel.passive``...), which is why the
functional ``TypedDict`` form is used: dotted keys are not Python identifiers.
"""

from __future__ import annotations

from typing import Any, Dict, List, TypedDict, Union

__all__ = [
    "AnomalyRecord",
    "FtpRecord",
    "RECORD_TYPES",
    "Record",
    "SessionRecord",
    "TransferRecord",
    "columns",
]

#: One command and its final reply, or a reply no command was waiting for (no ``command``)
#: (``"type": "ftp"``).
FtpRecord = TypedDict(
    "FtpRecord",
    {
        "type": str,
        "file": str,
        "ts": float,
        "uid": str,
        "id.orig_h": str,
        "id.orig_p": int,
        "id.resp_h": str,
        "id.resp_p": int,
        "user": str,
        "password": str,
        "command": str,
        "arg": str,
        "mime_type": str,
        "file_size": int,
        "reply_code": int,
        "reply_msg": str,
        "data_channel.passive": bool,
        "data_channel.orig_h": str,
        "data_channel.resp_h": str,
        "data_channel.resp_p": int,
        "data_channel.mode": str,
        "response_time": float,
        "cwd": str,
        "rest_offset": int,
        "preliminary": List[int],
        "preliminary_msg": List[str],
        "anomalies": List[str],
        "frame": int,
        "reply_frame": int,
        "command_incomplete": bool,
        "reply_incomplete": bool,
    },
    total=False,
)

#: One data transfer (``"type": "transfer"``); ``sha256`` unless hashing is off.
TransferRecord = TypedDict(
    "TransferRecord",
    {
        "type": str,
        "file": str,
        "ts": float,
        "uid": str,
        "id.orig_h": str,
        "id.orig_p": int,
        "id.resp_h": str,
        "id.resp_p": int,
        "user": str,
        "command": str,
        "arg": str,
        "path": str,
        "mode": str,
        "direction": str,
        "transfer_type": str,
        "bytes": int,
        "sha256": str,
        "md5": str,
        "sha1": str,
        "state": str,
        "partial_reasons": List[str],
        "offset": int,
        "file_size": int,
        "mime_type": str,
        "reply_code": int,
        "outcome": str,
        "data.orig_h": str,
        "data.orig_p": int,
        "data.resp_h": str,
        "data.resp_p": int,
        "data_uid": str,
        "gaps": int,
        "gap_bytes": int,
        "duration": float,
        "encrypted": bool,
        "tls.version": str,
        "tls.sni": str,
        "tls.cipher": str,
        "tls.cert_subject": str,
        "tls.cert_issuer": str,
        "tls.cert_not_before": str,
        "tls.cert_not_after": str,
        "tls.cert_sha256": str,
        "tls.alert": int,
        "late_bound": bool,
        "channel": int,
        "command_frame": int,
        "extracted": str,
    },
    total=False,
)

#: One control connection, at its end (``"type": "session"``).
SessionRecord = TypedDict(
    "SessionRecord",
    {
        "type": str,
        "file": str,
        "ts": float,
        "end_ts": float,
        "uid": str,
        "id.orig_h": str,
        "id.orig_p": int,
        "id.resp_h": str,
        "id.resp_p": int,
        "banner": str,
        "user": str,
        "password": str,
        "anonymous": bool,
        "login": str,
        "failed_logins": int,
        "commands": int,
        "transfers": int,
        "anomalies": int,
        "tls": str,
        "tls.version": str,
        "tls.sni": str,
        "tls.cipher": str,
        "tls.cert_subject": str,
        "tls.cert_issuer": str,
        "tls.cert_not_before": str,
        "tls.cert_not_after": str,
        "tls.cert_sha256": str,
        "tls.alert": int,
        "midstream": bool,
    },
    total=False,
)

#: An anomaly no command record carries (``"type": "anomaly"``).
AnomalyRecord = TypedDict(
    "AnomalyRecord",
    {
        "type": str,
        "file": str,
        "ts": float,
        "uid": str,
        "id.orig_h": str,
        "id.orig_p": int,
        "id.resp_h": str,
        "id.resp_p": int,
        "name": str,
        "detail": str,
        "frame": int,
    },
    total=False,
)

Record = Union[FtpRecord, TransferRecord, SessionRecord, AnomalyRecord]

#: The record classes by their ``type`` value.
RECORD_TYPES: Dict[str, Any] = {
    "ftp": FtpRecord,
    "transfer": TransferRecord,
    "session": SessionRecord,
    "anomaly": AnomalyRecord,
}


def columns(record_type: str) -> Dict[str, Any]:
    """The keys of one record type and their Python types (``str``, ``int``, ``float``, ``bool``,
    ``List[str]``, ``List[int]``), in the order the core writes them."""
    try:
        cls = RECORD_TYPES[record_type]
    except KeyError:
        raise ValueError(
            "unknown record type %r (one of: %s)" % (record_type, ", ".join(RECORD_TYPES))
        ) from None
    return dict(cls.__annotations__)
