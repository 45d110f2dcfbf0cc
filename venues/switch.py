"""A venue's dead-man's switch, sans-IO: what must be confirmed, what to refresh, and its state.

Every venue can cancel our resting orders by itself when we stop talking to it; each names it differently:
- Binance USD-M ``POST /fapi/v1/countdownCancelAll`` per symbol, called again as a heartbeat;
- OKX ``POST /api/v5/trade/cancel-all-after``, called again before it fires;
- Bybit disconnection protection: ``POST /v5/order/disconnected-cancel-all`` sets the window, the private
  stream subscribes ``dcp.future``, and its pings are the heartbeat;
- Deribit ``private/enable_cancel_on_disconnect`` on the connection, with ``public/set_heartbeat``.

A venue session owns one ``SwitchKeeper`` when the switch is configured. The keeper knows the *parts* that
must be confirmed for the switch to hold (one per Binance symbol; OKX's one timer; Bybit's window, its
account setting and the stream subscription; Deribit's connection flag), turns refresh rounds into urgent
``Fetch``es and a ``SetTimer``, and reports every change of state as a ``DeadMansSwitch`` message:

    ARMING --all parts confirmed--> ARMED --a part failed or was lost--> FAILING --confirmed again--> ARMED
    any state --the venue refused it (a definite answer)--> REFUSED (final for this session)

Orders are only sent while ARMED (the exchange actor asks ``armed``).
"""

from __future__ import annotations

from collections.abc import Iterable

from messages import DeadMansSwitch, SwitchState, Venue
from venues.effects import Fetch, Out, SetTimer
from venues.errors import RateLimited, TimestampError, VenueReject, VenueUnavailable
from venues.http import RequestSpec

__all__ = ["SWITCH", "SwitchKeeper", "is_refusal"]

SWITCH = "switch:"
"""Prefix of the keys of a switch's fetches and of its refresh timer."""
REFRESH = SWITCH + "refresh"

# (state now, what happened) -> next state; what is not listed leaves the state as it is.
_NEXT: dict[tuple[SwitchState, str], SwitchState] = {
    (SwitchState.ARMING, "complete"): SwitchState.ARMED,
    (SwitchState.FAILING, "complete"): SwitchState.ARMED,
    (SwitchState.ARMING, "failed"): SwitchState.FAILING,
    (SwitchState.ARMED, "failed"): SwitchState.FAILING,
    (SwitchState.ARMING, "refused"): SwitchState.REFUSED,
    (SwitchState.ARMED, "refused"): SwitchState.REFUSED,
    (SwitchState.FAILING, "refused"): SwitchState.REFUSED,
}


def is_refusal(error: Exception) -> bool:
    """A definite answer that the switch cannot be had (a parameter, a permission, a feature the account
    lacks), as opposed to a transient failure (rate limit, clock, network, maintenance) worth retrying."""
    return isinstance(error, VenueReject) and not isinstance(error, RateLimited | TimestampError | VenueUnavailable)


class SwitchKeeper:
    """One venue session's switch: the parts to confirm, the refresh timer, the state.

    Args:
        venue: whose switch.
        window_s: how long after our last word the venue cancels (as configured).
        refresh_s: how often the session refreshes it (None: a stream holds it, nothing to call again).
    """

    def __init__(self, venue: Venue, window_s: float, refresh_s: float | None) -> None:
        self.venue = venue
        self.window_s = window_s
        self.refresh_s = refresh_s
        self.state = SwitchState.ARMING
        self.detail = "not confirmed yet"
        self.need: set[str] = set()
        self.ok: set[str] = set()
        self.refreshed_ms = 0  # when the last part was confirmed (status: how fresh it is)
        self.standing_down = False  # no more rounds: someone is about to turn the switch off (the doctor)

    @property
    def armed(self) -> bool:
        return self.state is SwitchState.ARMED

    @staticmethod
    def owns(key: str) -> bool:
        return key.startswith(SWITCH)

    @staticmethod
    def part(key: str) -> str:
        return key[len(SWITCH):]

    def status(self, now_ms: int) -> DeadMansSwitch:
        return DeadMansSwitch(venue=self.venue, state=self.state, window_s=self.window_s, detail=self.detail,
                              ts=now_ms * 1_000_000)

    # -- events ------------------------------------------------------------------------------------
    def require(self, parts: Iterable[str]) -> None:
        """Parts that must be confirmed before the switch holds (more symbols: more parts)."""
        self.need.update(parts)

    def round(self, requests: Iterable[tuple[str, RequestSpec]]) -> list[Out]:
        """One arming or refresh round: each (part, request) as an urgent fetch, then the next round's timer;
        nothing once standing down."""
        if self.standing_down:
            return []
        out: list[Out] = []
        for part, spec in requests:
            self.require([part])
            out.append(Fetch(key=SWITCH + part, spec=spec, urgent=True))
        if self.refresh_s is not None and self.state is not SwitchState.REFUSED:
            out.append(SetTimer(key=REFRESH, after_s=self.refresh_s))
        return out

    def stand_down(self) -> None:
        """Send no more rounds (a refresh timer that fires sends nothing): the switch is about to be turned
        off by request, and a refresh arriving after that request would arm it again."""
        self.standing_down = True

    def confirmed(self, part: str, now_ms: int, detail: str) -> list[Out]:
        """The venue confirmed one part (an answer, an ack)."""
        self.ok.add(part)
        self.refreshed_ms = now_ms
        if self.need <= self.ok:
            return self._move("complete", detail, now_ms)
        return []

    def lost(self, part: str, reason: str, now_ms: int) -> list[Out]:
        """A part no longer holds (its stream went away, a refresh failed for a transient reason)."""
        self.ok.discard(part)
        return self._move("failed", reason, now_ms)

    def failed(self, part: str, error: Exception, now_ms: int) -> list[Out]:
        """A part's request failed: refused for good, or lost until the next round confirms it."""
        if is_refusal(error):
            self.ok.discard(part)
            return self._move("refused", f"{part}: {error}", now_ms)
        return self.lost(part, f"{part}: {error}", now_ms)

    def refuse(self, reason: str, now_ms: int) -> list[Out]:
        """The venue's answer shows the switch cannot be had (e.g. the account lacks the feature)."""
        return self._move("refused", reason, now_ms)

    def _move(self, what: str, detail: str, now_ms: int) -> list[Out]:
        nxt = _NEXT.get((self.state, what))
        if nxt is None:
            return []
        self.state = nxt
        self.detail = detail[:300]
        return [self.status(now_ms)]
