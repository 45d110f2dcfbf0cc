"""Sans-IO venue protocols: bytes <-> typed messages, typed commands -> signed request descriptions.

Nothing in this package opens a socket, starts a task or reads a clock: no asyncio, anyio, aiohttp or
``time`` imports (tests/test_layering.py enforces it). Time, nonces and secrets are passed in.

Every venue package (binance, bybit, okx, deribit) has the same shape: wire.py (structs shaped like the
venue's JSON), parse.py (wire -> messages), frames.py (WebSocket frames), rest.py (request specs and
response parsing), signing.py, codes.py (status and error maps).
"""

from __future__ import annotations

from venues.http import RequestSpec, Response

__all__ = ["Credentials", "RequestSpec", "Response"]


class Credentials:
    """API credentials. The secret never appears in repr, str or exceptions."""

    __slots__ = ("api_key", "_secret", "passphrase")

    def __init__(self, api_key: str, secret: str, passphrase: str = "") -> None:
        self.api_key = api_key
        self._secret = secret
        self.passphrase = passphrase

    @property
    def secret(self) -> str:
        return self._secret

    def __repr__(self) -> str:
        key = self.api_key[:4] + "…" if len(self.api_key) > 4 else "…"
        return f"Credentials(api_key={key!r}, secret=<hidden>, passphrase={'<hidden>' if self.passphrase else ''!r})"

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        msg = "Credentials are not picklable"
        raise TypeError(msg)
