"""The paging cursor of `DecisionLog.page`: opaque (base64url of the last row's key), refused unless
it is one `page` issued.

Paging is keyset paging on ``(created_at, decision_id)``.  A cursor holds [timestamp, id]; with ids
of at most MAX_DECISION_ID_CHARS (128 four-byte characters: ~740 characters of cursor) every
cursor issued stays under MAX_CURSOR_CHARS, so a longer one is refused before it is decoded.
"""
from __future__ import annotations

import base64
import binascii
import json
import re

from .records import MAX_DECISION_ID_CHARS, parse_ts, text_problem

MAX_CURSOR_CHARS = 1024

# the one form a cursor's timestamp has (format_ts): nothing to overflow, nothing to interpret
_CURSOR_TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


def encode_cursor(created_at: str, decision_id: str) -> str:
    raw = json.dumps([created_at, decision_id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """(created_at, decision_id) of a cursor from :func:`encode_cursor`; ValueError for anything else."""
    try:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        ts, did = json.loads(raw.decode("utf-8"))
        if not (isinstance(ts, str) and _CURSOR_TS.fullmatch(ts) and isinstance(did, str)
                and 0 < len(did) <= MAX_DECISION_ID_CHARS and text_problem(did) is None):
            raise ValueError
        parse_ts(ts)   # a real date and time (month 13 or second 61 are refused)
        return ts, did
    except (ValueError, TypeError, RecursionError, binascii.Error):
        raise ValueError("invalid paging cursor: pass the `next` value of the previous page unchanged") \
            from None

