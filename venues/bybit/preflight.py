"""Bybit v5 reads of the doctor: the API key's permissions and an instrument's margin mode and leverage.

Sources (bybit-exchange/docs, checked 2026-12-06): docs/v5/user/apikey-info.mdx ("Get API Key Information"),
docs/v5/position/position.mdx ("Get Position Info"), docs/v5/account/account-info.mdx ("Get Account Info"),
docs/v5/order/dcp.mdx.

Rules:
- ``GET /v5/user/query-api`` (any permission may call it): ``readOnly`` 0 read and write / 1 read only;
  ``permissions.ContractTrade`` lists ``Order`` / ``Position`` (derivatives trading, USDT and USDC contracts
  of a unified account included); ``permissions.Wallet`` lists ``Withdraw`` (master accounts only) when the
  key may withdraw; ``ips`` the IPs the key is bound to, ``["*"]`` for none. A key may trade when it is not
  read-only and ``ContractTrade`` has ``Order``.
- ``GET /v5/position/list?category=linear&symbol=S`` lists the symbol's positions whether open or not (one
  row one-way, two in hedge mode), each with its ``leverage`` and ``tradeMode`` (0 cross, 1 isolated).
  The docs mark ``tradeMode`` as meaningful for classic accounts only: on a unified account (UTA 2.0) it is
  always 0 and the margin mode is the account's ``marginMode`` (``GET /v5/account/info``: REGULAR_MARGIN
  cross, ISOLATED_MARGIN isolated, PORTFOLIO_MARGIN portfolio). ``parse_settings`` takes that account
  margin mode when the caller has read it (``account_info`` / ``parse_account_margin``), else ``tradeMode``.
- The dead-man's switch (disconnection protection) has no "off" by API: Bybit turns DCP on or off per
  account on request ("contact your client manager"), and the set endpoint only takes a window in [3, 300] s.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from venues import Credentials
from venues.bybit import codes
from venues.bybit.rejects import check
from venues.bybit.signing import DEFAULT_RECV_WINDOW_MS, signed_headers
from venues.errors import DecodeError
from venues.facts import InstrumentFacts, KeyFacts
from venues.http import Method, RequestSpec, Response

__all__ = [
    "QUERY_API", "ACCOUNT_INFO", "POSITIONS", "MARGIN_MODES", "key_info", "parse_key_info", "account_info",
    "parse_account_margin", "settings", "parse_settings",
]

QUERY_API = "/v5/user/query-api"
ACCOUNT_INFO = "/v5/account/info"
POSITIONS = "/v5/position/list"
MARGIN_MODES = {"REGULAR_MARGIN": "cross", "ISOLATED_MARGIN": "isolated", "PORTFOLIO_MARGIN": "portfolio"}
"""A unified account's ``marginMode`` -> our word."""
_TRADE_MODES = {0: "cross", 1: "isolated"}  # a position's ``tradeMode`` (classic accounts)
_VENUE = codes.VENUE
_T = TypeVar("_T")


class _Permissions(msgspec.Struct):
    ContractTrade: list[str] = []  # "Order", "Position"
    Derivatives: list[str] = []  # "DerivativesTrade"
    Wallet: list[str] = []  # "AccountTransfer", "SubMemberTransfer", "Withdraw", ...


class _ApiKey(msgspec.Struct):
    """The ``result`` of GET /v5/user/query-api (the fields read)."""

    readOnly: int  # 0 read and write, 1 read only
    permissions: _Permissions = msgspec.field(default_factory=_Permissions)
    ips: list[str] = []  # bound IPs; ["*"] when none


class _AccountInfo(msgspec.Struct):
    marginMode: str  # ISOLATED_MARGIN | REGULAR_MARGIN | PORTFOLIO_MARGIN


class _PositionRow(msgspec.Struct):
    symbol: str
    leverage: str = ""
    tradeMode: int = 0  # 0 cross, 1 isolated (classic accounts; always 0 on UTA 2.0)
    positionIdx: int = 0


class _Positions(msgspec.Struct):
    items: list[_PositionRow] = msgspec.field(name="list", default_factory=list)


_API_KEY = msgspec.json.Decoder(_ApiKey)
_ACCOUNT = msgspec.json.Decoder(_AccountInfo)
_POSITIONS = msgspec.json.Decoder(_Positions)


def _signed_get(path: str, query: str, creds: Credentials, now_ms: int, recv_window_ms: int) -> RequestSpec:
    return RequestSpec(method=Method.GET, path=path, query=query, endpoint=path, signed=True,
                       headers=signed_headers(creds, now_ms, query, recv_window_ms))


def _decode(decoder: msgspec.json.Decoder[_T], raw: msgspec.Raw, what: str) -> _T:
    try:
        return decoder.decode(raw)
    except msgspec.MsgspecError as exc:
        raise DecodeError(_VENUE, what, str(exc), bytes(raw)) from None


def key_info(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """Signed ``GET /v5/user/query-api`` (no parameters)."""
    return _signed_get(QUERY_API, "", creds, now_ms, recv_window_ms)


def parse_key_info(response: Response, ts_recv: int) -> KeyFacts:
    """The key's permissions as ``KeyFacts`` (``detail`` in Bybit's words).

    Raises:
        VenueReject, DecodeError: see ``rejects.check``; e.g. AuthError for 10010 (unmatched IP).
    """
    key = _decode(_API_KEY, check(response, ts_recv, "api key").result, "api key")
    perms = key.permissions
    ips = [ip for ip in key.ips if ip]
    restricted = bool(ips) and ips != ["*"]
    detail = (f"readOnly={key.readOnly}; ContractTrade={','.join(perms.ContractTrade) or '-'}; "
              f"Derivatives={','.join(perms.Derivatives) or '-'}; Wallet={','.join(perms.Wallet) or '-'}; "
              f"ips={','.join(ips) or '-'}")
    return KeyFacts(can_trade=key.readOnly == 0 and "Order" in perms.ContractTrade,
                    can_withdraw="Withdraw" in perms.Wallet, ip_restricted=restricted, detail=detail)


def account_info(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """Signed ``GET /v5/account/info`` (the unified account's margin mode)."""
    return _signed_get(ACCOUNT_INFO, "", creds, now_ms, recv_window_ms)


def parse_account_margin(response: Response, ts_recv: int) -> str:
    """The account's ``marginMode`` as Bybit writes it (``REGULAR_MARGIN`` ...).

    Raises:
        VenueReject, DecodeError: see ``rejects.check``.
    """
    return _decode(_ACCOUNT, check(response, ts_recv, "account info").result, "account info").marginMode


def settings(creds: Credentials, now_ms: int, symbol: str, category: str = "linear",
             recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """Signed ``GET /v5/position/list`` of one symbol (listed whether a position is open or not)."""
    return _signed_get(POSITIONS, f"category={category}&symbol={symbol}", creds, now_ms, recv_window_ms)


def parse_settings(response: Response, symbol: str, ts_recv: int, account_margin: str = "") -> InstrumentFacts:
    """Margin mode and leverage of ``symbol`` from its position rows.

    Args:
        account_margin: the account's ``marginMode`` when read (a unified account's margin mode); "" to take
            the rows' ``tradeMode``.

    Raises:
        VenueReject, DecodeError: see ``rejects.check``; DecodeError when no row is for ``symbol``.
    """
    rows = [r for r in _decode(_POSITIONS, check(response, ts_recv, "positions").result, "positions").items
            if r.symbol == symbol]
    if not rows:
        msg = f"expected a position row for {symbol}, got none"
        raise DecodeError(_VENUE, "positions", msg, response.body)
    leverages = sorted({r.leverage for r in rows})
    trade_modes = sorted({r.tradeMode for r in rows})
    detail = f"{symbol}: tradeMode={','.join(map(str, trade_modes))}, leverage={'/'.join(leverages)}"
    if account_margin:
        mode = MARGIN_MODES.get(account_margin, account_margin)
        detail += f"; account marginMode={account_margin}"
    else:
        mode = "/".join(_TRADE_MODES.get(t, str(t)) for t in trade_modes)
    return InstrumentFacts(margin_mode=mode, leverage="/".join(leverages), detail=detail)
