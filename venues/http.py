"""What the I/O shell should send: a plain description of one HTTP request.

Codecs build RequestSpecs (already signed, with the exact query string and body bytes that were signed);
the transport sends them verbatim. Nothing here opens a socket.
"""

from __future__ import annotations

import enum

import msgspec

__all__ = ["RequestSpec", "Method", "Response"]


class Method(enum.StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    DELETE = "DELETE"


class RequestSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One request. ``query`` is the encoded query string without '?', exactly as signed.

    ``weight`` is the venue's cost of this request in its own rate-limit unit (Binance weight, Deribit
    credits, 1 elsewhere); ``endpoint`` names the bucket it counts against; ``idempotent`` tells the
    shell whether a retry after a timeout is safe (order placement never is).

    ``stream`` (when not empty) names one of the session's WebSocket streams: the shell sends ``body`` as
    one frame on that connection instead of an HTTP request (the connection is the authentication), and
    the answer is the frame the codec reports as ``Answered`` with this ``request_id``; the shell hands it
    to the same parsers as a ``Response`` (status 200, no headers). Everything else (limits, retries,
    timeouts) is as for HTTP; the connection dropping before the answer is ``VenueUnavailable``.
    """

    method: Method
    path: str
    query: str = ""
    headers: dict[str, str] = {}
    body: bytes = b""
    weight: int = 1
    endpoint: str = ""
    idempotent: bool = True
    signed: bool = False
    stream: str = ""
    request_id: str = ""

    @property
    def target(self) -> str:
        """Path with query string, as it goes on the request line."""
        return f"{self.path}?{self.query}" if self.query else self.path

    def __repr__(self) -> str:
        # Headers may carry API keys and signatures: never print their values.
        via = f", stream={self.stream!r} id={self.request_id}" if self.stream else ""
        return (
            f"RequestSpec({self.method} {self.path}, query_len={len(self.query)}, "
            f"headers={sorted(self.headers)}, body_len={len(self.body)}, signed={self.signed}{via})"
        )

    __str__ = __repr__


class Response(msgspec.Struct, frozen=True, kw_only=True):
    """What came back: status, the headers the codecs care about (lower-case names), and the body."""

    status: int
    headers: dict[str, str]
    body: bytes
