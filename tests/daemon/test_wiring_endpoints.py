"""``[venues.<v>] testnet`` selects each venue's testnet / demo environment in ``adapter_for`` (issue #8).

No network: the adapters are built by the daemon's wiring and asked for the requests and stream URLs they
would use; the actor joins ``endpoints.rest`` with ``RequestSpec.target`` (actors/transport.RestClient).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from actors.exchanges import binance, bybit, deribit, okx
from actors.exchanges.adapter import Endpoints
from daemon.config import VenueSection
from daemon.wiring import adapter_for
from messages import (
    CancelOrder,
    ClientOrderId,
    ContractType,
    Instrument,
    InstrumentId,
    InstrumentKind,
    OrderType,
    PlaceOrder,
    PositionMode,
    QueryOrder,
    Side,
    Venue,
)
from venues import Credentials
from venues.http import RequestSpec, Response
from venues.session import Fetch
from venues.symbols import InstrumentRegistry

BTC = InstrumentId("BTC-USDT-PERP")

TESTNET_HOSTS = {
    Venue.BINANCE: ("https://testnet.binancefuture.com", {
        "public": "wss://stream.binancefuture.com",
        "market": "wss://stream.binancefuture.com",
        "private": "wss://stream.binancefuture.com",
    }),
    Venue.BYBIT: ("https://api-testnet.bybit.com", {
        "public": "wss://stream-testnet.bybit.com/v5/public/linear",
        "private": "wss://stream-testnet.bybit.com/v5/private",
    }),
    Venue.OKX: ("https://www.okx.com", {
        "public": "wss://wspap.okx.com:8443/ws/v5/public",
        "private": "wss://wspap.okx.com:8443/ws/v5/private",
        "business": "wss://wspap.okx.com:8443/ws/v5/business",
    }),
    Venue.DERIBIT: ("https://test.deribit.com", {"main": "wss://test.deribit.com/ws/api/v2"}),
}
MODULES: dict[Venue, Any] = {Venue.BINANCE: binance, Venue.BYBIT: bybit, Venue.OKX: okx, Venue.DERIBIT: deribit}


class _Ctx:
    """A VenueContext for the request builders (credentials and the venue's clock)."""

    def __init__(self, registry: InstrumentRegistry) -> None:
        self.credentials: Credentials | None = Credentials("key", "secret", "pass")
        self.registry = registry

    def now_ms(self) -> int:
        return 1_700_000_000_123

    def nonce(self) -> str:
        return "n0"

    @property
    def position_mode(self) -> PositionMode:
        return PositionMode.ONE_WAY


class _Urls:
    """A session of the adapter, asked for stream URLs as the actor asks: a Fetch it wants first (Binance's
    listenKey) is answered with ``{"listenKey": "LK123"}`` and recorded."""

    def __init__(self, adapter: Any) -> None:
        self.session = adapter.session(Credentials("key", "secret", "pass"), lambda: "n0")
        self.fetched: list[RequestSpec] = []

    def url(self, stream: str) -> str:
        step = self.session.url(stream, 1_700_000_000_123)
        while isinstance(step, Fetch):
            self.fetched.append(step.spec)
            self.session.response(step.key, Response(status=200, headers={}, body=b'{"listenKey":"LK123"}'), 0)
            step = self.session.url(stream, 1_700_000_000_123)
        assert isinstance(step, str)
        return step

    def streams(self) -> list[str]:
        return [s.name for s in self.session.streams()]


def _registry_with_okx_btc() -> InstrumentRegistry:
    reg = InstrumentRegistry()
    reg.add(Instrument(id=BTC, venue=Venue.OKX, venue_symbol="BTC-USDT-SWAP", kind=InstrumentKind.PERPETUAL,
                       base="BTC", quote="USDT", settle="USDT", contract_type=ContractType.LINEAR,
                       tick_size=Decimal("0.1"), lot_size=Decimal("1"), contract_size=Decimal("0.01"),
                       min_qty=Decimal("1")))
    return reg


# -- endpoints ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("venue", list(Venue))
def test_testnet_selects_the_venues_testnet_endpoints(venue: Venue) -> None:
    adapter = adapter_for(venue, InstrumentRegistry(), None, VenueSection(testnet=True))
    rest, ws = TESTNET_HOSTS[venue]
    assert adapter.endpoints == Endpoints(rest=rest, ws=ws)
    assert adapter.endpoints == MODULES[venue].TESTNET_ENDPOINTS
    # Same stream names as live, so every stream the adapter opens has a testnet URL.
    assert set(adapter.endpoints.ws) == set(MODULES[venue].LIVE_ENDPOINTS.ws)
    assert set(_Urls(adapter).streams()) <= set(adapter.endpoints.ws)


@pytest.mark.parametrize("venue", list(Venue))
def test_live_endpoints_by_default(venue: Venue) -> None:
    adapter = adapter_for(venue, InstrumentRegistry(), None, VenueSection())
    assert adapter.endpoints == MODULES[venue].LIVE_ENDPOINTS
    assert adapter.endpoints != MODULES[venue].TESTNET_ENDPOINTS


@pytest.mark.parametrize("venue", list(Venue))
def test_explicit_rest_and_ws_overrides_win_over_testnet(venue: Venue) -> None:
    stream = next(iter(MODULES[venue].LIVE_ENDPOINTS.ws))
    section = VenueSection(testnet=True, rest="https://proxy.example", ws={stream: "wss://proxy.example/ws"})
    adapter = adapter_for(venue, InstrumentRegistry(), None, section)
    assert adapter.endpoints.rest == "https://proxy.example"
    assert adapter.endpoints.ws[stream] == "wss://proxy.example/ws"
    _, ws = TESTNET_HOSTS[venue]
    for name, url in ws.items():  # the keys not overridden stay on the testnet
        if name != stream:
            assert adapter.endpoints.ws[name] == url


@pytest.mark.parametrize("venue", list(Venue))
def test_simulate_endpoints_replace_testnet_ones(venue: Venue) -> None:
    twin = Endpoints(rest="http://127.0.0.1:1", ws={k: f"ws://127.0.0.1:1/{k}" for k in MODULES[venue].LIVE_ENDPOINTS.ws})
    adapter = adapter_for(venue, InstrumentRegistry(), twin, VenueSection(testnet=True))
    assert adapter.endpoints == twin


# -- Binance: legacy stream paths on the testnet ---------------------------------------------------------
def test_binance_testnet_uses_legacy_stream_paths() -> None:
    adapter = adapter_for(Venue.BINANCE, InstrumentRegistry(), None, VenueSection(testnet=True))
    urls = _Urls(adapter)
    assert urls.url("public") == "wss://stream.binancefuture.com/ws"
    assert urls.url("market") == "wss://stream.binancefuture.com/ws"
    assert urls.url("private") == "wss://stream.binancefuture.com/ws/LK123"
    (listen_key,) = urls.fetched
    assert adapter.endpoints.rest + listen_key.target == "https://testnet.binancefuture.com/fapi/v1/listenKey"


def test_binance_live_uses_routed_stream_paths() -> None:
    urls = _Urls(adapter_for(Venue.BINANCE, InstrumentRegistry(), None, VenueSection()))
    assert urls.url("public") == "wss://fstream.binance.com/public/ws"
    assert urls.url("market") == "wss://fstream.binance.com/market/ws"
    assert urls.url("private") == "wss://fstream.binance.com/private/ws?listenKey=LK123"


def test_binance_testnet_with_overridden_ws_keeps_legacy_routing() -> None:
    section = VenueSection(testnet=True, ws={"private": "wss://fstream.binancefuture.com"})
    urls = _Urls(adapter_for(Venue.BINANCE, InstrumentRegistry(), None, section))
    assert urls.url("private") == "wss://fstream.binancefuture.com/ws/LK123"


def test_binance_rejects_an_unknown_ws_routing() -> None:
    from venues.errors import ConfigError

    with pytest.raises(ConfigError, match="ws_routing"):
        binance.BinanceAdapter(InstrumentRegistry(), ws_routing="combined")


# -- OKX: demo trading header --------------------------------------------------------------------------
def _okx_requests(adapter: Any, ctx: _Ctx) -> list[RequestSpec]:
    order = PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb1"), side=Side.BUY,
                       quantity=Decimal("2"), order_type=OrderType.LIMIT, price=Decimal("30000.1"))
    return [
        adapter.place_order(order, ctx),
        adapter.cancel_order(CancelOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb1")), ctx),
        adapter.query_order(QueryOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb1")), ctx),
        *adapter.open_orders(BTC, ctx),
        *adapter.balances(ctx),
        *adapter.positions(ctx),
        adapter.server_time_request(),
        *adapter.instruments_requests(),
    ]


def test_okx_demo_mode_sends_the_simulated_trading_header_on_every_request() -> None:
    reg = _registry_with_okx_btc()
    adapter = adapter_for(Venue.OKX, reg, None, VenueSection(testnet=True))
    ctx = _Ctx(reg)
    place = adapter.place_order(PlaceOrder(venue=Venue.OKX, instrument=BTC, client_order_id=ClientOrderId("cb1"),
                                           side=Side.BUY, quantity=Decimal("2"), order_type=OrderType.MARKET), ctx)
    assert place.headers["x-simulated-trading"] == "1"
    assert adapter.endpoints.rest + place.target == "https://www.okx.com/api/v5/trade/order"
    assert json.loads(place.body)["instId"] == "BTC-USDT-SWAP"
    for spec in _okx_requests(adapter, ctx):
        assert spec.headers.get("x-simulated-trading") == "1", spec.path


def test_okx_live_mode_sends_no_simulated_trading_header() -> None:
    reg = _registry_with_okx_btc()
    adapter = adapter_for(Venue.OKX, reg, None, VenueSection())
    for spec in _okx_requests(adapter, _Ctx(reg)):
        assert "x-simulated-trading" not in spec.headers, spec.path


def test_okx_simulate_twins_get_no_demo_header_even_with_testnet() -> None:
    reg = _registry_with_okx_btc()
    twin = Endpoints(rest="http://127.0.0.1:1", ws={k: "ws://127.0.0.1:1" for k in okx.LIVE_ENDPOINTS.ws})
    adapter = adapter_for(Venue.OKX, reg, twin, VenueSection(testnet=True))
    for spec in _okx_requests(adapter, _Ctx(reg)):
        assert "x-simulated-trading" not in spec.headers, spec.path


def test_okx_demo_streams_connect_to_wspap() -> None:
    adapter = adapter_for(Venue.OKX, _registry_with_okx_btc(), None, VenueSection(testnet=True, klines=["1m"]))
    urls = _Urls(adapter)
    assert {name: urls.url(name) for name in urls.streams()} == TESTNET_HOSTS[Venue.OKX][1]


# -- Bybit and Deribit: hosts only -----------------------------------------------------------------------
@pytest.mark.parametrize("venue", [Venue.BYBIT, Venue.DERIBIT])
def test_testnet_stream_urls_and_rest_targets(venue: Venue) -> None:
    adapter = adapter_for(venue, InstrumentRegistry(), None, VenueSection(testnet=True))
    rest, ws = TESTNET_HOSTS[venue]
    urls = _Urls(adapter)
    for name in urls.streams():
        assert urls.url(name) == ws[name]
    assert (adapter.endpoints.rest + adapter.server_time_request().target).startswith(rest + "/")
