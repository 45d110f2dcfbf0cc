"""Order placements on their way into a twin: counted per client order id, and answers the network loses.

Rules:
- Every placement a twin's order handler receives is counted under its client order id (Binance
  ``newClientOrderId``, Bybit ``orderLinkId``, OKX ``clOrdId``, Deribit ``label``; ``""`` when it carries none
  or cannot be read), first thing, before signature checks, rate limits, validation or the matching engine
  decide anything; a batch counts each of its orders. Requests that never reach the order handler are not
  counted: refused connections, and the faults answered before any handler (``http_5xx``, ``rate_limit``,
  ``ban``, WS requests under ``stall``).
- A placement that came over HTTP is marked on its request; ``fault_middleware`` then lets the
  EXECUTE_THEN_5XX / EXECUTE_THEN_DROP faults replace or drop its answer after the handler ran (whatever the
  outcome). A twin taking orders over WebSocket applies ``lost_answer`` itself after handling one.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from simulator.faults import FaultController, FaultKind

__all__ = ["ReceivedOrders", "PLACEMENT", "LostAnswer", "lost_answer", "json_client_ids"]

PLACEMENT = web.RequestKey("crossbook_placement", bool)
"""Set on an HTTP request that carried order placements (read by ``twin.fault_middleware``)."""


class ReceivedOrders:
    """How many placements one twin received, per client order id (see the module rules)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def add(self, client_ids: Iterable[str], request: web.Request | None = None) -> None:
        """Count one received placement per id; mark ``request`` (if given) as a placement for the faults."""
        self._counts.update(client_ids)
        if request is not None:
            request[PLACEMENT] = True

    def count(self, client_id: str) -> int:
        """Placements received with ``client_id`` (0 if none)."""
        return self._counts[client_id]

    def to_json(self) -> dict[str, int]:
        return dict(self._counts)

    def clear(self) -> None:
        self._counts.clear()


def json_client_ids(body: str, field: str) -> list[str]:
    """The client ids of a JSON placement body: one per object of a batch (a JSON array), else one.

    Leniently: a body that is not JSON, or an item that is not an object, counts as one order with id ``""``.
    """
    try:
        parsed = json.loads(body)
    except json.JSONDecodeError:
        return [""]
    items = parsed if isinstance(parsed, list) else [parsed]
    return [str(item.get(field) or "") if isinstance(item, dict) else "" for item in items]


@dataclass(frozen=True, slots=True)
class LostAnswer:
    """How a handled placement's answer is lost: dropped (``drop``) or replaced by the 5xx ``status``."""

    drop: bool
    status: int = 500


def lost_answer(faults: FaultController) -> LostAnswer | None:
    """Consume an EXECUTE_THEN_DROP (first) or EXECUTE_THEN_5XX fault for a placement just handled.

    Returns:
        How to lose the answer, or None when the real answer goes out.
    """
    if faults.consume(FaultKind.EXECUTE_THEN_DROP) is not None:
        return LostAnswer(drop=True)
    fault = faults.consume(FaultKind.EXECUTE_THEN_5XX)
    if fault is None:
        return None
    return LostAnswer(drop=False, status=int(fault.params.get("status", 500)))
