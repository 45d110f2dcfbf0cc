"""Drift faults of the Deribit twin: the venue changing without notice (faults.UNKNOWN_FIELD / UNKNOWN_EVENT).

Invariants:
- UNKNOWN_FIELD (while active): one extra key ``params.get("field", "x_new_field")`` =
  ``params.get("value", 1)`` where Deribit puts its own keys: in the ``params.data`` object (or in each row
  of a list of objects) of every market-data notification (``MARKET_PREFIXES``: book, grouped book, trades,
  ticker, incremental ticker, quote, chart, price index, perpetual; the subscribe-time book snapshot too),
  and in every JSON-RPC ``result`` object (or in each row of a list of objects) over HTTP and WebSocket.
  Results that are not objects (a number, ``"ok"``, a list of channel names) have nowhere to put it. The
  twin's own payloads are never mutated: copies carry the key.
- UNKNOWN_EVENT (one-shot): a ``subscription`` notification on a channel Deribit does not document
  (``params.get("event", "x_new_event")``), shaped like every other notification, is queued once on every
  connection open when it is injected (then it is used up); injected while no connection is open, it waits
  for the next connection. With a duration, every connection opened before it ends gets one.
"""

from __future__ import annotations

from typing import Any

from simulator.faults import Fault, FaultController, FaultKind

__all__ = ["MARKET_PREFIXES", "is_market_channel", "with_unknown_field", "unknown_event"]

MARKET_PREFIXES = ("book.", "trades.", "ticker.", "incremental_ticker.", "quote.", "chart.trades.",
                   "deribit_price_index.", "perpetual.")


def is_market_channel(channel: str) -> bool:
    return channel.startswith(MARKET_PREFIXES)


def with_unknown_field(faults: FaultController, payload: Any) -> Any:
    """``payload`` with the UNKNOWN_FIELD key added (a copy), or ``payload`` itself when the fault is off or
    the payload holds no object."""
    fault = faults.active(FaultKind.UNKNOWN_FIELD)
    if fault is None:
        return payload
    field, value = str(fault.params.get("field", "x_new_field")), fault.params.get("value", 1)
    if isinstance(payload, dict):
        return payload | {field: value}
    if isinstance(payload, list) and payload and all(isinstance(row, dict) for row in payload):
        return [row | {field: value} for row in payload]
    return payload


def unknown_event(fault: Fault, now_ms: int) -> dict[str, Any]:
    """The notification of an undocumented channel, shaped like Deribit's."""
    channel = str(fault.params.get("event", "x_new_event"))
    return {"jsonrpc": "2.0", "method": "subscription", "params": {"channel": channel, "data": {"timestamp": now_ms}}}
