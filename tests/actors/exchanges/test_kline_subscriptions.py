"""Adapters with ``klines`` / ``emit_deltas``: which frames go on which stream (on connect and when the actor's
SubscribeMarketData adds an instrument on a live connection), interval names, and the daemon wiring."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from actors.exchanges.binance import BinanceAdapter
from actors.exchanges.bybit import BybitAdapter
from actors.exchanges.deribit import DeribitAdapter, chart_resolution
from actors.exchanges.okx import OkxAdapter, okx_bar
from daemon.config import VenueSection
from daemon.wiring import adapter_for
from messages import ContractType, Instrument, InstrumentId, InstrumentKind, Venue
from venues.errors import ConfigError
from venues.session import Send
from venues.symbols import InstrumentRegistry

ETH = InstrumentId("ETH-USDT-PERP")
ETH_USD = InstrumentId("ETH-USD-PERP")
_SYMBOLS = {Venue.BINANCE: "ETHUSDT", Venue.BYBIT: "ETHUSDT", Venue.OKX: "ETH-USDT-SWAP", Venue.DERIBIT: "ETH-PERPETUAL"}


def _registry(venue: Venue) -> InstrumentRegistry:
    reg = InstrumentRegistry()
    inverse = venue is Venue.DERIBIT
    reg.add(Instrument(id=ETH_USD if inverse else ETH, venue=venue, venue_symbol=_SYMBOLS[venue],
                       kind=InstrumentKind.PERPETUAL, base="ETH", quote="USD" if inverse else "USDT",
                       settle="ETH" if inverse else "USDT",
                       contract_type=ContractType.INVERSE if inverse else ContractType.LINEAR,
                       tick_size=Decimal("0.01"), lot_size=Decimal("0.001")))
    return reg


def _connect_all(adapter: Any, inst: InstrumentId) -> list[tuple[str, Any]]:
    """Every stream of a fresh session (no credentials) comes up, then ``inst`` is subscribed, as the actor
    does for SubscribeMarketData on live connections: the frames the session sends for it."""
    session = adapter.session(None, lambda: "n")
    for spec in session.streams():
        session.connected(spec.name, 1_700_000_000_000)
    return [(out.stream, json.loads(out.frame)) for out in session.subscribe([inst], 1_700_000_000_000)
            if isinstance(out, Send)]


def _stream_names(adapter: Any) -> list[str]:
    return [s.name for s in adapter.session(None, lambda: "n").streams()]


def test_binance_subscribes_klines_on_the_market_stream_even_without_trades() -> None:
    adapter = BinanceAdapter(_registry(Venue.BINANCE), klines=("1m", "1h"), trades=False, emit_deltas=True)
    assert _stream_names(adapter) == ["public", "market"]
    sent = _connect_all(adapter, ETH)
    market = [f["params"] for s, f in sent if s == "market"]
    assert market == [["ethusdt@kline_1m", "ethusdt@kline_1h"]]
    assert _stream_names(BinanceAdapter(_registry(Venue.BINANCE), trades=False))[-1] == "public"
    with pytest.raises(ConfigError):
        BinanceAdapter(_registry(Venue.BINANCE), klines=("7m",))


def test_bybit_subscribes_kline_topics_in_bybit_interval_names() -> None:
    adapter = BybitAdapter(_registry(Venue.BYBIT), klines=("1m", "1h", "1d", "5"), emit_deltas=True)
    sent = _connect_all(adapter, ETH)
    topics = [t for s, f in sent if s == "public" for t in f["args"]]
    assert topics == ["orderbook.50.ETHUSDT", "publicTrade.ETHUSDT", "kline.1.ETHUSDT", "kline.60.ETHUSDT",
                      "kline.D.ETHUSDT", "kline.5.ETHUSDT"]
    quiet = _connect_all(BybitAdapter(_registry(Venue.BYBIT), trades=False), ETH)
    assert [t for s, f in quiet if s == "public" for t in f["args"]] == ["orderbook.50.ETHUSDT"]
    with pytest.raises(ConfigError):
        BybitAdapter(_registry(Venue.BYBIT), klines=("2m",))


def test_okx_subscribes_candles_on_the_business_stream_only() -> None:
    adapter = OkxAdapter(_registry(Venue.OKX), klines=("1m", "4h", "1d"), emit_deltas=True)
    assert _stream_names(adapter) == ["public", "business"]
    sent = _connect_all(adapter, ETH)
    business = [a for s, f in sent if s == "business" for a in f["args"]]
    assert business == [{"channel": c, "instId": "ETH-USDT-SWAP"} for c in ("candle1m", "candle4H", "candle1Dutc")]
    assert not any(a["channel"].startswith("candle") for s, f in sent if s == "public" for a in f["args"])
    assert _stream_names(OkxAdapter(_registry(Venue.OKX))) == ["public"]
    assert [okx_bar(i) for i in ("5m", "1h", "6h", "1w", "1M", "1H", "1D")] == [
        "5m", "1H", "6Hutc", "1Wutc", "1Mutc", "1H", "1D"]
    with pytest.raises(ConfigError):
        okx_bar("1x")


def test_deribit_subscribes_chart_trades_per_resolution() -> None:
    adapter = DeribitAdapter(_registry(Venue.DERIBIT), klines=("1m", "1h", "1d"), trades=False, emit_deltas=True)
    sent = _connect_all(adapter, ETH_USD)
    channels = [c for _, f in sent if f.get("method") == "public/subscribe" for c in f["params"]["channels"]]
    assert channels == ["book.ETH-PERPETUAL.100ms", "chart.trades.ETH-PERPETUAL.1",
                        "chart.trades.ETH-PERPETUAL.60", "chart.trades.ETH-PERPETUAL.1D"]
    assert [chart_resolution(i) for i in ("5m", "2h", "1D", "720")] == ["5", "120", "1D", "720"]
    with pytest.raises(ConfigError):
        chart_resolution("2d")


@pytest.mark.parametrize("venue", list(Venue))
def test_adapter_for_passes_klines_and_book_deltas(venue: Venue) -> None:
    section = VenueSection(klines=["1m"], book_deltas=True)
    adapter: Any = adapter_for(venue, _registry(venue), None, section)
    codec = adapter.codec
    assert getattr(codec, "_emit_deltas", getattr(codec, "emit_deltas", None)) is True
    plain: Any = adapter_for(venue, _registry(venue), None, VenueSection())
    assert getattr(plain.codec, "_emit_deltas", getattr(plain.codec, "emit_deltas", None)) is False


_ADAPTERS: dict[Venue, Any] = {Venue.BINANCE: BinanceAdapter, Venue.BYBIT: BybitAdapter, Venue.OKX: OkxAdapter,
                               Venue.DERIBIT: DeribitAdapter}


@pytest.mark.parametrize("venue", list(Venue))
def test_subscribe_market_data_is_checked_against_the_configured_channels(venue: Venue) -> None:
    """What SubscribeMarketData asks of an adapter: configured intervals in any spelling the venue takes are
    covered; anything else is named; an interval the venue does not offer is a ConfigError."""
    adapter = _ADAPTERS[venue](_registry(venue), klines=("1m", "1h"))
    assert adapter.unsupported_market_data(True, ("1m", "1h")) == []
    assert adapter.unsupported_market_data(False, ()) == []
    assert adapter.unsupported_market_data(True, ("1m", "5m", "1d")) == ["kline 5m", "kline 1d"]
    quiet = _ADAPTERS[venue](_registry(venue), trades=False)
    assert quiet.unsupported_market_data(True, ()) == ["trades (trades = false)"]
    assert quiet.unsupported_market_data(False, ()) == []
    with pytest.raises(ConfigError):
        adapter.unsupported_market_data(False, ("7x",))


@pytest.mark.parametrize("venue", list(Venue))
def test_adapter_for_passes_trades(venue: Venue) -> None:
    off: Any = adapter_for(venue, _registry(venue), None, VenueSection(trades=False))
    on: Any = adapter_for(venue, _registry(venue), None, VenueSection())
    assert off.unsupported_market_data(True, ()) != [] and on.unsupported_market_data(True, ()) == []
