"""The crossbook exception tree. Every error says who is at fault.

    CrossbookError
    ├── LocalError                  we tried something illegal (fix our code or the caller's input)
    │   ├── InvalidOrder            an order that cannot be sent as it is (size below lot, no price, ...)
    │   ├── InstrumentError         unknown instrument or a duplicate key in a registry
    │   ├── ConfigError             a configuration that cannot be used
    │   └── SwitchNotArmed          an order refused before it left: the venue's configured dead-man's
    │                               switch is not armed (nothing would cancel it if we died)
    └── RemoteError                 the venue sent something we cannot accept
        ├── DecodeError             malformed frame: bad JSON, wrong types, missing fields
        ├── UnknownStatus           a raw order status no map knows (never silently "pending")
        ├── BookIntegrityError      the local book can no longer be trusted; resync it
        │   ├── SequenceGap         a missing or out-of-order update id
        │   ├── ChecksumMismatch    the venue's checksum disagrees with our book
        │   └── CrossedBook         best bid >= best ask after applying an update
        └── VenueReject             the venue answered with an error code (kept in ``code``)
            ├── AuthError           bad key, bad signature, missing permission
            ├── TimestampError      request time outside the venue's receive window
            ├── RateLimited         slow down; ``retry_after_s`` when the venue says
            │   └── IpBanned        every request refused until ``until_ms``
            ├── InsufficientFunds
            ├── UnknownOrder
            ├── DuplicateClientOrderId
            ├── PostOnlyWouldTake   a post-only order that would have taken liquidity: refused, not amended
            ├── InvalidParameter
            └── VenueUnavailable    maintenance, overload, 5xx: the outcome of a write may be unknown

Malformed venue input is a RemoteError that the actor counts and follows with a resync; it never crashes
the actor. Messages never contain secrets, signatures or API keys.
"""

from __future__ import annotations

__all__ = [
    "CrossbookError",
    "LocalError",
    "RemoteError",
    "InvalidOrder",
    "InstrumentError",
    "ConfigError",
    "SwitchNotArmed",
    "DecodeError",
    "UnknownStatus",
    "BookIntegrityError",
    "SequenceGap",
    "ChecksumMismatch",
    "CrossedBook",
    "VenueReject",
    "AuthError",
    "TimestampError",
    "RateLimited",
    "IpBanned",
    "InsufficientFunds",
    "UnknownOrder",
    "DuplicateClientOrderId",
    "PostOnlyWouldTake",
    "InvalidParameter",
    "VenueUnavailable",
]


class CrossbookError(Exception):
    """Root of every error crossbook raises on purpose."""


class LocalError(CrossbookError):
    """We (or our caller) tried something illegal."""


class RemoteError(CrossbookError):
    """The venue sent something we cannot accept, or refused what we sent."""


class InvalidOrder(LocalError):
    pass


class InstrumentError(LocalError):
    pass


class ConfigError(LocalError):
    pass


class SwitchNotArmed(LocalError):
    pass


class DecodeError(RemoteError):
    """A frame or response that does not match the venue's documented shape."""

    def __init__(self, venue: str, what: str, detail: str, payload: bytes | str = b"") -> None:
        self.venue = venue
        self.what = what
        self.detail = detail
        snippet = payload if isinstance(payload, str) else payload[:200].decode("utf-8", "replace")
        self.payload = snippet[:200]
        msg = f"cannot decode {venue} {what}: {detail}"
        if snippet:
            msg += f" (payload starts {snippet[:120]!r})"
        super().__init__(msg)


class UnknownStatus(RemoteError):
    def __init__(self, venue: str, raw: str, known: tuple[str, ...]) -> None:
        self.venue = venue
        self.raw = raw
        self.known = known
        msg = f"unknown {venue} order status {raw!r}; expected one of {', '.join(known)}"
        super().__init__(msg)


class BookIntegrityError(RemoteError):
    """Base for errors after which a book must be resynced."""

    def __init__(self, venue: str, instrument: str, detail: str) -> None:
        self.venue = venue
        self.instrument = instrument
        self.detail = detail
        super().__init__(f"{venue} {instrument} book: {detail}; resyncing")


class SequenceGap(BookIntegrityError):
    def __init__(self, venue: str, instrument: str, expected: int, got: int, field: str = "seq") -> None:
        self.expected = expected
        self.got = got
        detail = f"expected {field} {expected}, got {got}"
        super().__init__(venue, instrument, detail)


class ChecksumMismatch(BookIntegrityError):
    def __init__(self, venue: str, instrument: str, expected: int, computed: int) -> None:
        self.expected = expected
        self.computed = computed
        super().__init__(venue, instrument, f"checksum {expected} from venue, {computed} computed")


class CrossedBook(BookIntegrityError):
    def __init__(self, venue: str, instrument: str, bid: float, ask: float) -> None:
        self.bid = bid
        self.ask = ask
        super().__init__(venue, instrument, f"crossed: best bid {bid} >= best ask {ask}")


class VenueReject(RemoteError):
    """The venue answered with an error. ``code`` and ``text`` are the venue's own."""

    def __init__(self, venue: str, code: str | int, text: str, http_status: int | None = None) -> None:
        self.venue = venue
        self.code = str(code)
        self.text = text
        self.http_status = http_status
        where = f" (HTTP {http_status})" if http_status is not None else ""
        super().__init__(f"{venue} rejected the request with code {self.code}{where}: {text}")


class AuthError(VenueReject):
    pass


class TimestampError(VenueReject):
    pass


class RateLimited(VenueReject):
    def __init__(
        self,
        venue: str,
        code: str | int,
        text: str,
        http_status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(venue, code, text, http_status)
        self.retry_after_s = retry_after_s


class IpBanned(RateLimited):
    def __init__(
        self,
        venue: str,
        code: str | int,
        text: str,
        http_status: int | None = None,
        retry_after_s: float | None = None,
        until_ms: int | None = None,
    ) -> None:
        super().__init__(venue, code, text, http_status, retry_after_s)
        self.until_ms = until_ms


class InsufficientFunds(VenueReject):
    pass


class UnknownOrder(VenueReject):
    pass


class DuplicateClientOrderId(VenueReject):
    pass


class PostOnlyWouldTake(VenueReject):
    """A post-only order would have crossed the book; the venue refused it (a definite rejection, nothing
    rests, nothing filled)."""


class InvalidParameter(VenueReject):
    pass


class VenueUnavailable(VenueReject):
    pass
