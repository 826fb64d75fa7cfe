"""Stable item ids: the same file gets the same id on every machine and every re-run."""

from __future__ import annotations

import hashlib
import re

_SLUG = re.compile(r"[^A-Za-z0-9]+")


def slug(text: str, limit: int = 40) -> str:
    """A file-name-safe short form of ``text`` (letters, digits, dashes)."""
    s = _SLUG.sub("-", text).strip("-")[:limit].strip("-")
    return s or "video"


def source_id(name: str, key: str) -> str:
    """``<slug(name)>-<8 hex of sha1(key)>``: readable, and distinct for distinct keys."""
    return f"{slug(name)}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"


def segment_id(src_id: str, index: int) -> str:
    """The id of segment ``index`` of source ``src_id``."""
    return f"{src_id}_s{index:03d}"
