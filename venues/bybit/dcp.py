"""Bybit disconnection protection (DCP) as the session's dead-man's switch, sans-IO.

What Bybit documents (docs/v5/order/dcp.mdx, account/dcp-info.mdx, websocket/private/dcp.mdx; change log
2024-06-18, the last entry touching DCP up to 2026-02-12; venues/bybit/PROTOCOL.md):
- DCP is an account feature Bybit enables on request (the account manager). ``POST
  /v5/order/disconnected-cancel-all`` ``{"product": "DERIVATIVES", "timeWindow": N}`` sets its window: N whole
  seconds in [3, 300]; ``product`` defaults to OPTIONS, DERIVATIVES covers USDT / USDC perpetuals and futures
  (and inverse on UTA 2.0). The answer carries no result, and "the system needs a certain time to take
  effect. It is recommended to query or set again after 10 seconds".
- ``GET /v5/account/query-dcp-info`` lists ``{"product", "dcpStatus": "ON", "timeWindow": "N"}`` per product
  DCP is configured for; an account without DCP gets an empty list.
- DCP fires only for private connections that subscribed ``dcp.future`` (DERIVATIVES; ``dcp.spot`` and
  ``dcp.option`` for the others): once every one of them is gone for the window, Bybit cancels every open
  derivatives order of the account. The clock starts at the disconnection; a connection that comes back and
  resumes its pings within the window resets it. The private stream's pings are therefore the heartbeat:
  nothing is refreshed by REST.

The switch (``SwitchKeeper``, venues/switch.py) has three parts, all required before it is ARMED:
1. ``window``: at ``start`` the window is set (an urgent fetch). A transient failure (rate limit, clock, 5xx,
   a broken answer) is tried again after the session's backoff (``retry_after_s``, doubling), FAILING
   meanwhile. A definite refusal is remembered and the account's setting is read anyway, so the REFUSED
   detail says why: DCP not enabled, or the venue's own error.
2. ``account``: after the window's answer (never before: a read racing the set would show the old value),
   query-dcp-info. Confirmed only when a DERIVATIVES entry is ON with our window. An empty list: REFUSED
   (DCP is not enabled for the account); no DERIVATIVES entry, or not ON: REFUSED. Another window: Bybit may
   not have applied ours yet, so it is read again every ``recheck_s`` (still ARMING, the detail says so), up
   to ``rechecks`` times, then REFUSED (something else sets the window).
3. ``stream``: every private connection subscribes ``dcp.future`` in a subscribe of its own, right behind the
   other private topics (a refusal of it then never takes the order topics down with it), and pings at once
   (the heartbeat resumes without waiting a ping interval); the subscribe's ack confirms the part. A refused subscribe is sent again like any other (the session's backoff) and the part is lost
   meanwhile; the private stream going down loses it too (FAILING): Bybit's clock is running until the
   next connection's ack.
Window and account are confirmed once per session: DCP is an account setting that reconnects do not touch.
Nothing here does I/O or reads a clock: time comes in as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec

from messages import SwitchState, Venue
from venues import Credentials
from venues.bybit import codes, wire
from venues.bybit.rejects import check
from venues.bybit.rest import Endpoint
from venues.bybit.signing import DEFAULT_RECV_WINDOW_MS, signed_headers
from venues.errors import ConfigError, DecodeError, VenueReject
from venues.http import Method, RequestSpec, Response
from venues.session import Out, SetTimer
from venues.switch import SWITCH, SwitchKeeper, is_refusal

__all__ = [
    "DcpSwitch",
    "PRODUCT",
    "TOPIC",
    "WINDOW_RANGE_S",
    "PARTS",
    "RETRY",
    "RECHECK",
    "check_window",
    "set_window",
    "parse_set_window",
    "dcp_info",
    "parse_dcp_info",
]

PRODUCT = "DERIVATIVES"  # the DCP product of linear perpetuals and futures
TOPIC = "dcp.future"  # the private topic that makes a connection count for DERIVATIVES
WINDOW_RANGE_S = (3, 300)  # timeWindow, whole seconds
WINDOW, ACCOUNT, STREAM = "window", "account", "stream"
PARTS = (WINDOW, ACCOUNT, STREAM)
RETRY = SWITCH + "retry"
"""Timer key: the window or account step asked again after a transient failure."""
RECHECK = SWITCH + "recheck"
"""Timer key: the account's setting read again (it showed another window)."""
_VENUE = codes.VENUE
_encode = msgspec.json.Encoder().encode
NOT_ENABLED = ("DCP is not enabled for this Bybit account (Bybit enables it on request, through the account "
               "manager): query-dcp-info lists no product")


def check_window(window_s: float) -> int:
    """``window_s`` as Bybit's ``timeWindow``: whole seconds in [3, 300].

    Raises:
        ConfigError: a fraction, or a value outside the range.
    """
    lo, hi = WINDOW_RANGE_S
    if not lo <= window_s <= hi or window_s != int(window_s):  # range first: NaN and inf fail it
        msg = (f"bybit dead_mans_switch_s (DCP timeWindow) must be whole seconds in [{lo}, {hi}], or 0 for off; "
               f"got {window_s}")
        raise ConfigError(msg)
    return int(window_s)


def set_window(creds: Credentials, now_ms: int, window_s: int, product: str = PRODUCT,
               recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """Signed ``POST /v5/order/disconnected-cancel-all`` ``{"product", "timeWindow"}`` (setting the same
    window again is harmless: idempotent)."""
    body = _encode({"product": product, "timeWindow": window_s})
    headers = signed_headers(creds, now_ms, body, recv_window_ms)
    headers["Content-Type"] = "application/json"
    return RequestSpec(method=Method.POST, path=Endpoint.SET_DCP_WINDOW.value, headers=headers, body=body,
                       endpoint=Endpoint.SET_DCP_WINDOW.value, signed=True)


def parse_set_window(response: Response, ts_recv: int) -> None:
    """The set's answer (``{"retCode": 0, "retMsg": "success"}``, no result).

    Raises:
        VenueReject, DecodeError: see ``rejects.check``.
    """
    check(response, ts_recv, "set DCP window")


def dcp_info(creds: Credentials, now_ms: int, recv_window_ms: int = DEFAULT_RECV_WINDOW_MS) -> RequestSpec:
    """Signed ``GET /v5/account/query-dcp-info`` (no parameters)."""
    return RequestSpec(method=Method.GET, path=Endpoint.DCP_INFO.value,
                       headers=signed_headers(creds, now_ms, "", recv_window_ms), endpoint=Endpoint.DCP_INFO.value,
                       signed=True)


def parse_dcp_info(response: Response, ts_recv: int) -> list[wire.DcpInfo]:
    """Each product DCP is configured for (empty: DCP is not enabled for the account).

    Raises:
        VenueReject, DecodeError: see ``rejects.check``; DecodeError for a result without ``dcpInfos``.
    """
    env = check(response, ts_recv, "DCP info")
    try:
        return wire.DCP_INFOS.decode(env.result).dcpInfos
    except msgspec.MsgspecError as exc:
        raise DecodeError(_VENUE, "DCP info", str(exc), bytes(env.result)) from None


class DcpSwitch:
    """A Bybit session's DCP switch: the window and account steps, the ``dcp.future`` subscription, the state.

    Args:
        credentials: whose account.
        window_s: the DCP window (``check_window``).
        retry_after_s: backoff before the n-th retry of a failed step (1 = the first).
        recheck_s: how long before the account's setting is read again when it shows another window.
        rechecks: how many such reads before the switch is REFUSED.
    """

    def __init__(self, credentials: Credentials, window_s: int, retry_after_s: Callable[[int], float],
                 recheck_s: float = 10.0, rechecks: int = 6) -> None:
        self.keeper = SwitchKeeper(Venue.BYBIT, float(window_s), refresh_s=None)
        self.keeper.require(PARTS)
        self.window_s = window_s
        self.req_id = ""  # req_id of the dcp.future subscribe on the current private connection (set by the session)
        self._creds = credentials
        self._retry_after_s = retry_after_s
        self._recheck_s = recheck_s
        self._rechecks = rechecks
        self._step = WINDOW  # the REST step in flight, or to try again
        self._failures = 0  # transient failures of the REST steps in a row
        self._reads = 0  # account reads that showed another window
        self._set_refused: VenueReject | None = None
        self._armed_detail = (f"DERIVATIVES timeWindow {window_s} s confirmed and {TOPIC} subscribed: Bybit cancels "
                              f"every open derivatives order {window_s} s after the private stream is gone")

    @property
    def refused(self) -> bool:
        return self.keeper.state is SwitchState.REFUSED

    # -- REST steps --------------------------------------------------------------------------------
    def start(self, now_ms: int) -> list[Out]:
        """The switch as it starts (ARMING) and the window's set."""
        return [self.keeper.status(now_ms), *self._fetch(WINDOW, now_ms)]

    def _fetch(self, part: str, now_ms: int) -> list[Out]:
        self._step = part
        spec = set_window(self._creds, now_ms, self.window_s) if part == WINDOW else dcp_info(self._creds, now_ms)
        return self.keeper.round([(part, spec)])

    def response(self, key: str, response: Response, now_ms: int) -> list[Out]:
        """A step's answer.

        Raises:
            VenueReject, DecodeError: the answer is an error or unreadable (the caller reports it to ``failed``).
        """
        part = SwitchKeeper.part(key)
        ts = now_ms * 1_000_000
        if part == WINDOW:
            parse_set_window(response, ts)
            self._failures = 0
            return self.keeper.confirmed(WINDOW, now_ms, self._armed_detail) + self._fetch(ACCOUNT, now_ms)
        if part == ACCOUNT:
            infos = parse_dcp_info(response, ts)
            self._failures = 0
            return self._judge(infos, now_ms)
        return []

    def failed(self, key: str, error: Exception, now_ms: int) -> list[Out]:
        """A step failed: a refused set is judged by the account's setting; anything else definite refuses the
        switch; a transient failure is tried again after the backoff."""
        part = SwitchKeeper.part(key)
        if part not in (WINDOW, ACCOUNT) or self.refused:
            return []
        if is_refusal(error):
            if part == WINDOW and isinstance(error, VenueReject):
                self._set_refused = error
                return self._fetch(ACCOUNT, now_ms)
            return self.keeper.failed(part, error, now_ms)
        self._failures += 1
        after = self._retry_after_s(self._failures)
        out = self.keeper.failed(part, error, now_ms)
        return [*out, SetTimer(key=RETRY, after_s=after)]

    def timer(self, key: str, now_ms: int) -> list[Out]:
        if self.refused:
            return []
        if key == RETRY:
            return self._fetch(self._step, now_ms)
        if key == RECHECK:
            return self._fetch(ACCOUNT, now_ms)
        return []

    def _judge(self, infos: Sequence[wire.DcpInfo], now_ms: int) -> list[Out]:
        """The account's DCP setting against ours."""
        keeper, n = self.keeper, self.window_s
        refused = f"; setting the window was refused too: {self._set_refused}" if self._set_refused else ""
        if not infos:
            return keeper.refuse(NOT_ENABLED + refused, now_ms)
        mine = next((i for i in infos if i.product == PRODUCT), None)
        if mine is None:
            products = ", ".join(i.product for i in infos)
            return keeper.refuse(f"DCP is enabled for {products} only, not {PRODUCT} (the perpetuals we trade): "
                                 f"ask Bybit to enable it for {PRODUCT}{refused}", now_ms)
        if mine.dcpStatus != "ON":
            return keeper.refuse(f"query-dcp-info shows {PRODUCT} dcpStatus {mine.dcpStatus!r}, expected 'ON'"
                                 f"{refused}", now_ms)
        if self._set_refused is not None:
            return keeper.refuse(f"Bybit refused to set the {PRODUCT} DCP window to {n} s: {self._set_refused}",
                                 now_ms)
        if mine.timeWindow.strip() != str(n):
            self._reads += 1
            shown = f"query-dcp-info shows {PRODUCT} timeWindow {mine.timeWindow!r} s, we set {n} s"
            if self._reads > self._rechecks:
                return keeper.refuse(f"{shown}, still after {self._reads} reads {self._recheck_s:g} s apart "
                                     f"(does another client set it?)", now_ms)
            keeper.detail = f"{shown}; Bybit applies a new window after a while: reading again in {self._recheck_s:g} s"
            return [SetTimer(key=RECHECK, after_s=self._recheck_s)]
        return keeper.confirmed(ACCOUNT, now_ms, self._armed_detail)

    # -- the private stream ------------------------------------------------------------------------
    def subscribed(self, now_ms: int) -> list[Out]:
        """Its ack: this connection counts for Bybit's DCP."""
        return self.keeper.confirmed(STREAM, now_ms, self._armed_detail)

    def subscribe_failed(self, text: str, retry_s: float, now_ms: int) -> list[Out]:
        """Its refusal (sent again after ``retry_s``): nothing protects our orders meanwhile."""
        return self.keeper.lost(STREAM, f"{TOPIC} subscribe refused ({text}); sending it again in {retry_s:g} s",
                                now_ms)

    def stream_down(self, now_ms: int) -> list[Out]:
        """The private stream went away (its successor subscribes afresh)."""
        self.req_id = ""
        return self.keeper.lost(STREAM, f"private stream down: Bybit cancels our derivatives orders "
                                        f"{self.window_s} s from now unless a new connection subscribes {TOPIC}",
                                now_ms)
