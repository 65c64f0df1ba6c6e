"""The records of ``ftplens log``, typed: one ``TypedDict`` per record ``type``.

The records themselves come from the core's serializer (the command's JSON lines), so their keys and
values are the command's by construction. Their types are generated from the JSON Schema the core
derives from the same declarations (``ftplens schema``; see ``_record_types.py``), so the keys are
declared once, in the core. These types describe them for type checkers and give the tabular schema
(pandas, Arrow, Dask): a key the core writes only when it has a value (an absent password, a reply
that never came) is a missing value in a table. ``python/tests/test_capture.py`` checks every key and
value type the core wrote over the test captures against these declarations.

Key names follow Zeek's ftp.log (``id.orig_h``, ``data_channel.passive``...), which is why the
functional ``TypedDict`` form is used: dotted keys are not Python identifiers.
"""

from __future__ import annotations

from typing import Any, Dict

from . import _record_types
from ._record_types import *  # noqa: F403  (the generated types, re-exported as they are)
from ._record_types import RECORD_TYPES

__all__ = ["columns"]
__all__ += _record_types.__all__


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
