"""Archives of captures on Dask: one partition per capture file, analysed where it runs.

::

    import ftplens.dask
    transfers = ftplens.dask.read_captures("s3://bucket/captures/*.pcap.gz", record="transfer")
    transfers.to_parquet("s3://bucket/ftp/transfers/")

Paths go through fsspec, so local folders, S3, GCS, HDFS and the rest read alike (the backend, e.g.
``s3fs``, must be installed on the workers). A worker analyses a local file in place and copies a
remote one to a temporary file first (the analyser reads files, and a capture is read once, in
order). Each partition is what :func:`ftplens.analyze` gives for its file, limited to one record
type, plus a ``file`` column naming the capture; the schema (``meta``) is known before anything is
read, from :func:`ftplens.arrow_schema`.

Needs the ``dask`` extra: ``pip install './python[dask]'``.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Dict, List, Optional, Union

from ._capture import analyze, arrow_schema
from ._records import columns

__all__ = ["capture_paths", "read_captures"]


def capture_paths(urlpath: Union[str, List[str]], storage_options: Optional[Dict[str, Any]] = None) -> Any:
    """The filesystem and the sorted capture files ``urlpath`` names: a file, a glob, a folder
    (every file under it) or a list of those."""
    import fsspec  # type: ignore[import-untyped,import-not-found,unused-ignore]

    fs, _, paths = fsspec.get_fs_token_paths(urlpath, mode="rb", storage_options=storage_options or {})
    files: List[str] = []
    for p in paths:
        files.extend(sorted(fs.find(p)) if fs.isdir(p) else [p])
    return fs, files


class _Partition:
    """Analyse one capture into the rows of one record type (picklable: it goes to the workers)."""

    def __init__(self, fs: Any, record: str, errors: str, options: Dict[str, Any]) -> None:
        self.fs = fs
        self.record = record
        self.errors = errors
        self.options = options

    def __call__(self, path: str) -> Any:
        import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]
        import pyarrow as pa  # type: ignore[import-untyped,import-not-found,unused-ignore]

        if _is_local(self.fs):
            rows = self._rows(path, path)
        else:
            name = self.fs.unstrip_protocol(path)
            with tempfile.TemporaryDirectory(prefix="ftplens-") as tmp:
                local = os.path.join(tmp, os.path.basename(path) or "capture")
                self.fs.get_file(path, local)
                rows = self._rows(local, name)
        table = pa.Table.from_pylist(rows, schema=arrow_schema(self.record))
        return table.to_pandas(types_mapper=pd.ArrowDtype)

    def _rows(self, local: str, name: str) -> List[Dict[str, Any]]:
        rows: List[Dict[str, Any]] = []
        for r in analyze(local, errors=self.errors, **self.options):
            if r["type"] == self.record:
                row: Dict[str, Any] = dict(r)
                row["file"] = name
                rows.append(row)
        return rows


def _is_local(fs: Any) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocol or "local" in protocol


def meta(record: str) -> Any:
    """The empty pandas DataFrame of one record type: the columns and Arrow-backed dtypes of every
    partition of :func:`read_captures`."""
    import pandas as pd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return arrow_schema(record).empty_table().to_pandas(types_mapper=pd.ArrowDtype)


def read_captures(
    urlpath: Union[str, List[str]],
    *,
    record: str = "transfer",
    storage_options: Optional[Dict[str, Any]] = None,
    errors: str = "raise",
    **options: Any,
) -> Any:
    """A ``dask.dataframe.DataFrame`` of the ``record`` records (``"ftp"``, ``"transfer"``,
    ``"session"`` or ``"anomaly"``) of every capture ``urlpath`` names, one partition per file.

    ``options`` are :func:`ftplens.analyze`'s (``hash``, ``tcp_timeout``, ``limits``...);
    ``errors="raise"`` fails the computation on a file that is not a capture, ``"warn"`` or
    ``"ignore"`` give it no rows. Uids are unique within a file: key rows by ``(file, uid)``.
    """
    import dask.dataframe as dd  # type: ignore[import-untyped,import-not-found,unused-ignore]

    columns(record)  # an unknown record type fails here, not on the workers
    fs, files = capture_paths(urlpath, storage_options)
    if not files:
        raise FileNotFoundError("no capture matches %r" % (urlpath,))
    return dd.from_map(  # type: ignore[no-untyped-call,unused-ignore]
        _Partition(fs, record, errors, options),
        files,
        meta=meta(record),
        label="ftplens-" + record,
        enforce_metadata=False,
    )
