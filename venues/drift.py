"""Drift detection: every frame and REST answer read strictly against the venue's documented shapes.

A venue changes without an error: a new field, a new event type, a new enum value. Our codecs are lenient
on purpose (a new field must never stop trading), so the doctor reads everything a second time, strictly,
and lists what the documentation (as written into ``venues/<venue>/schema.py``) does not know, with one
example each.

A venue's schema module gives:
- ``frame_kind(stream, obj) -> str | None``: the documented kind of a decoded frame ("" for a frame not to
  check, e.g. a pong; None for a kind the documentation does not list: an unknown event type);
- ``FRAMES``: kind -> ``Shape``; ``REST``: request path -> ``Shape`` of its JSON answer;
- ``ENUMS``: ``"<kind or path>/<dotted key>"`` -> the documented values of that field.

A ``Shape`` maps each documented key to ``None`` (a leaf: any value, lists of scalars included) or to the
``Shape`` of the nested object (applied to each element when the value is a list of objects).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import msgspec

__all__ = ["Shape", "VenueSchema", "Finding", "DriftCollector"]

Shape = Mapping[str, "Shape | None"]


class VenueSchema(Protocol):
    FRAMES: Mapping[str, Shape]
    REST: Mapping[str, Shape]
    ENUMS: Mapping[str, frozenset[str]]

    def frame_kind(self, stream: str, obj: Any) -> str | None: ...


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the documentation does not know: ``what`` is "unknown field", "unknown event type" or
    "unknown value"; ``where`` names it (kind or path, then the key path); ``example`` is the first seen."""

    what: str
    where: str
    example: str
    count: int = 1


class DriftCollector:
    """Reads frames and answers strictly and keeps the first example of each finding (bounded)."""

    def __init__(self, schema: VenueSchema, limit: int = 200) -> None:
        self.schema = schema
        self.limit = limit
        self.findings: dict[tuple[str, str], Finding] = {}
        self.frames = 0
        self.responses = 0
        self.unreadable = 0  # not JSON at all (the codec counts and reports those itself)

    def frame(self, stream: str, raw: bytes | str) -> None:
        try:
            obj = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            self.unreadable += 1
            return
        self.frames += 1
        kind = self.schema.frame_kind(stream, obj)
        if kind == "":
            return
        if kind is None:
            self._add("unknown event type", f"{stream}", _example(obj))
            return
        shape = self.schema.FRAMES.get(kind)
        if shape is not None:
            self._walk(obj, shape, kind, "")

    def response(self, path: str, body: bytes) -> None:
        shape = self.schema.REST.get(path)
        if shape is None:
            return
        try:
            obj = msgspec.json.decode(body)
        except msgspec.DecodeError:
            self.unreadable += 1
            return
        self.responses += 1
        self._walk(obj, shape, path, "")

    def report(self) -> list[Finding]:
        return sorted(self.findings.values(), key=lambda f: (f.what, f.where))

    # -- the walk -----------------------------------------------------------------------------------
    def _walk(self, obj: Any, shape: Shape, kind: str, path: str) -> None:
        if isinstance(obj, list):
            for item in obj:
                self._walk(item, shape, kind, path)
            return
        if not isinstance(obj, dict):
            return
        enums = self.schema.ENUMS
        for key, value in obj.items():
            where = f"{path}.{key}" if path else key
            if key not in shape:
                self._add("unknown field", f"{kind}/{where}", _example(value))
                continue
            sub = shape[key]
            if sub is not None:
                self._walk(value, sub, kind, where)
                continue
            allowed = enums.get(f"{kind}/{where}")
            if allowed is not None and isinstance(value, str) and value not in allowed:
                self._add("unknown value", f"{kind}/{where}", value)

    def _add(self, what: str, where: str, example: str) -> None:
        key = (what, where)
        f = self.findings.get(key)
        if f is not None:
            self.findings[key] = msgspec.structs.replace(f, count=f.count + 1)
        elif len(self.findings) < self.limit:
            self.findings[key] = Finding(what=what, where=where, example=example[:160])


def _example(value: Any) -> str:
    return msgspec.json.encode(value).decode()[:160]
