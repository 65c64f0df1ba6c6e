"""Capture files to records: ``ftplens.analyze``, the ``ftplens log`` command as a Python iterator.

The core's capture analyser runs behind ``ftplens_capture_*`` (include/ftplens.h): it reads the files
on a thread of its own and hands over the command's JSON lines in batches, so memory stays flat and
the records are the command's. This module only turns options into the C struct and lines into dicts.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Union

from ._api import Limits
from ._lib import FtplensError, InvalidArgumentError, check, ffi, lib, string
from ._records import Record, columns

__all__ = [
    "Analysis",
    "CaptureError",
    "PartialCaptureWarning",
    "analyze",
    "records_to_arrow",
    "records_to_pandas",
]

PathLike = Union[str, "os.PathLike[str]", bytes]


class CaptureError(FtplensError):
    """An input could not be analysed (missing, not a capture, no frame of a known link type).

    ``reports`` holds the per-input reports of the whole run (see :attr:`Analysis.reports`).
    """

    def __init__(self, message: str, reports: List[Dict[str, Any]]) -> None:
        super().__init__(message)
        self.reports = reports


class PartialCaptureWarning(UserWarning):
    """Reading an input stopped early (a truncated file, garbage after some records): its records
    cover the frames before that point, as with ``ftplens log`` (exit status 3)."""


def _limit_assignments(limits: Union[None, Limits, Mapping[str, int]]) -> List[bytes]:
    if limits is None:
        return []
    items = (
        {k: v for k, v in vars(limits).items() if v is not None}
        if isinstance(limits, Limits)
        else dict(limits)
    )
    return [("%s=%d" % (k, int(v))).encode() for k, v in items.items()]


class Analysis(Iterator[Record]):
    """The records of one run over one or more captures, in the order ``ftplens log`` prints them.

    Iterate it once (records are produced while you read). When it is exhausted, :attr:`reports`
    says how each input went. Use it as a context manager, or call :meth:`close`, to stop early.
    """

    def __init__(
        self,
        paths: Sequence[PathLike],
        options: Any,
        keep: List[Any],
        errors: str,
    ) -> None:
        self.paths = [os.fsdecode(p) for p in paths]
        self.reports: List[Dict[str, Any]] = []
        self._errors = errors
        c_paths = [ffi.new("char[]", os.fsencode(p)) for p in paths]
        array = ffi.new("const char *[]", c_paths)
        out = ffi.new("ftplens_capture **")
        result = lib.ftplens_capture_open(array, len(c_paths), options, out)
        if result == lib.FTPLENS_ERR_INVALID_ARGUMENT:
            raise InvalidArgumentError(
                "ftplens_capture_open refused the options (a timeout or memcap not above 0, a negative "
                "late_window, or a limit out of range: see ftplens.Limits)",
                result,
            )
        check(result, "ftplens_capture_open")
        del keep  # the option arrays were copied by the open call
        self._handle: Any = ffi.gc(out[0], lib.ftplens_capture_free)
        self._data = ffi.new("const uint8_t **")
        self._len = ffi.new("size_t *")
        self._pending: List[bytes] = []

    def __iter__(self) -> "Analysis":
        return self

    def __next__(self) -> Record:
        while not self._pending:
            if self._handle is None:
                raise StopIteration
            result = lib.ftplens_capture_next(self._handle, self._data, self._len)
            if result == lib.FTPLENS_END:
                self._finish()
                raise StopIteration
            check(result, "ftplens_capture_next")
            batch = ffi.buffer(self._data[0], self._len[0])[:]
            self._pending = batch.splitlines()
            self._pending.reverse()
        return json.loads(self._pending.pop())  # type: ignore[no-any-return]

    def _finish(self) -> None:
        text = string(lib.ftplens_capture_report(self._handle)) or ""
        self.reports = [json.loads(line) for line in text.splitlines()]
        self.close()
        failed = [r for r in self.reports if r.get("error")]
        partial = [r for r in self.reports if r.get("stopped")]
        if self._errors == "ignore":
            return
        for r in partial:
            warnings.warn(
                "%s: stopped after %d frames: %s; the records cover those frames"
                % (r["file"], r.get("frames", 0), r["stopped"]),
                PartialCaptureWarning,
                stacklevel=3,
            )
        if failed:
            message = "; ".join("%s: %s" % (r["file"], r["error"]) for r in failed)
            if self._errors == "raise":
                raise CaptureError(message, self.reports)
            warnings.warn(message, PartialCaptureWarning, stacklevel=3)

    def close(self) -> None:
        """Stop the analysis and free it (the library's reading thread is stopped and joined)."""
        handle, self._handle = self._handle, None
        self._pending = []
        if handle is not None:
            ffi.gc(handle, None)  # detach the finalizer: freed here, once
            lib.ftplens_capture_free(handle)

    def __enter__(self) -> "Analysis":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def to_arrow(self, record_type: str) -> Any:
        """The remaining records of ``record_type`` as a ``pyarrow.Table`` (needs the ``arrow``
        extra); the other types are read and dropped."""
        return records_to_arrow(self, record_type)

    def to_pandas(self, record_type: str) -> Any:
        """The remaining records of ``record_type`` as a ``pandas.DataFrame`` with Arrow-backed
        nullable columns (needs the ``pandas`` and ``arrow`` extras)."""
        return records_to_pandas(self, record_type)


def analyze(
    paths: Union[PathLike, Sequence[PathLike]],
    *,
    hash: Union[bool, str, Sequence[str]] = True,
    tcp_timeout: Optional[float] = None,
    memcap: Optional[int] = None,
    stream_memcap: Optional[float] = None,
    late_window: Optional[float] = None,
    ftp_ports: Iterable[int] = (),
    limits: Union[None, Limits, Mapping[str, int]] = None,
    errors: str = "raise",
) -> Analysis:
    """Analyse capture files (pcap, pcapng, gzip-compressed or not) like ``ftplens log``.

    Returns an :class:`Analysis`: an iterator of records, dicts with the keys and values of the
    command's JSON lines (``"type"`` is ``"ftp"``, ``"transfer"``, ``"session"`` or ``"anomaly"``;
    see :data:`ftplens.FtpRecord` and friends). With several paths every record has a ``"file"`` key.

    The options are the command's, with its units and defaults (``None`` keeps the default):
    ``hash`` is ``--hash``: ``True`` the default (sha256), ``False`` none (``--no-hash``), or
    names such as ``"sha256,md5"`` or ``["md5", "sha1"]``; ``tcp_timeout`` and ``late_window`` are seconds; ``memcap`` is MiB
    for all TCP streams together, ``stream_memcap`` MiB for one; ``ftp_ports`` are ``--ftp-port``;
    ``limits`` is a :class:`Limits` or a mapping such as ``{"max_line": 65536}`` (``--limit``).

    ``errors`` says what an input that cannot be analysed does once the records are read:
    ``"raise"`` (:class:`CaptureError`), ``"warn"`` or ``"ignore"``. A capture that stops early
    (truncated) gives a :class:`PartialCaptureWarning` unless ``"ignore"``.
    """
    if errors not in ("raise", "warn", "ignore"):
        raise ValueError("errors must be 'raise', 'warn' or 'ignore', not %r" % (errors,))
    if not lib.ftplens_capture_supported():
        raise FtplensError("this libftplens was built without capture support (Rust feature `cli`)")
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    options = ffi.new("ftplens_capture_options *")
    lib.ftplens_capture_options_default(options)
    if hash is True:
        hash_names = None
    elif hash is False:
        hash_names = "none"
    elif isinstance(hash, str):
        hash_names = hash
    else:
        hash_names = ",".join(hash)
    hash_text = ffi.NULL if hash_names is None else ffi.new("char[]", hash_names.encode())
    options.hash = hash_text
    if tcp_timeout is not None:
        options.tcp_timeout = float(tcp_timeout)
    if late_window is not None:
        options.late_window = float(late_window)
    if memcap is not None:
        options.memcap = max(0, int(memcap)) << 20
    if stream_memcap is not None:
        options.stream_memcap = max(0, int(float(stream_memcap) * 1048576))
    ports = [int(p) for p in ftp_ports]
    if any(not 0 < p <= 0xFFFF for p in ports):
        raise InvalidArgumentError("ftp_ports must be TCP ports (1-65535): %r" % (ports,))
    port_array = ffi.new("uint16_t[]", ports)
    options.ftp_ports = port_array
    options.n_ftp_ports = len(ports)
    limit_strings = [ffi.new("char[]", a) for a in _limit_assignments(limits)]
    limit_array = ffi.new("const char *[]", limit_strings)
    options.limits = limit_array
    options.n_limits = len(limit_strings)
    keep = [hash_text, port_array, limit_strings, limit_array]
    return Analysis(list(paths), options, keep, errors)


# ------------------------------------------------------------------------------------------ tables
def arrow_schema(record_type: str) -> Any:
    """The ``pyarrow.Schema`` of one record type (every column nullable)."""
    import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]

    scalar = {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}

    def arrow_type(t: Any) -> Any:
        if t in scalar:
            return scalar[t]
        (item,) = t.__args__  # List[str], List[int]
        return pa.list_(scalar[item])

    return pa.schema([(k, arrow_type(t)) for k, t in columns(record_type).items()])


def records_to_arrow(records: Iterable[Mapping[str, Any]], record_type: str) -> Any:
    """The records of ``record_type`` among ``records`` as a ``pyarrow.Table`` of
    :func:`arrow_schema`."""
    import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]

    schema = arrow_schema(record_type)
    rows = [r for r in records if r.get("type") == record_type]
    return pa.Table.from_pylist(rows, schema=schema)


def records_to_pandas(records: Iterable[Mapping[str, Any]], record_type: str) -> Any:
    """The records of ``record_type`` as a ``pandas.DataFrame`` with Arrow-backed columns (missing
    values stay missing in integer and boolean columns)."""
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return records_to_arrow(records, record_type).to_pandas(types_mapper=pd.ArrowDtype)
