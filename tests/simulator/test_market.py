"""Market model, generated books and klines: determinism, invariants, dislocations."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.book import Side, VenueBook
from simulator.instruments import InstrumentSpec
from simulator.klines import KlineAggregator
from simulator.market import DislocationKind, MarketModel

BTC = InstrumentSpec("BTCUSDT", "BTC", "USDT", Decimal("0.10"), Decimal("0.001"))
DERIBIT_BTC = InstrumentSpec("BTC-PERPETUAL", "BTC", "USD", Decimal("0.5"), Decimal("10"), Decimal(10), inverse=True)
OKX_BTC = InstrumentSpec("BTC-USDT-SWAP", "BTC", "USDT", Decimal("0.1"), Decimal("1"), Decimal("0.01"))


def _model(seed: int) -> MarketModel:
    m = MarketModel(seed, ["BTC", "ETH"])
    for venue, spec in (("binance", BTC), ("deribit", DERIBIT_BTC), ("okx", OKX_BTC)):
        m.add_book(venue, spec)
    return m


def test_same_seed_gives_identical_books_and_trades() -> None:
    a, b = _model(7), _model(7)
    for _ in range(200):
        ca, cb = a.step(), b.step()
        assert ca[("binance", "BTCUSDT")].bids == cb[("binance", "BTCUSDT")].bids
        assert ca[("okx", "BTC-USDT-SWAP")].trades == cb[("okx", "BTC-USDT-SWAP")].trades
    assert a.book("deribit", "BTC-PERPETUAL").bids() == b.book("deribit", "BTC-PERPETUAL").bids()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_books_are_never_crossed_stay_50_deep_and_on_tick_and_lot(seed: int) -> None:
    m = _model(seed)
    for _ in range(150):
        m.step()
        for (_, _sym), book in m.books().items():
            bids, asks = book.bids(), book.asks()
            assert len(bids) >= 50 and len(asks) >= 50
            assert bids[0][0] < asks[0][0]
            assert all(p % book.spec.tick == 0 and s % book.spec.lot == 0 and s > 0 for p, s in bids + asks)


def test_prices_keep_the_tick_exponent_as_the_venue_prints_them() -> None:
    m = _model(3)
    m.step()
    price = m.book("binance", "BTCUSDT").bids()[0][0]
    assert str(price).split(".")[1].__len__() == 2
    assert 90_000 < price < 103_000


def test_changes_replayed_on_a_copy_reproduce_the_book() -> None:
    m = _model(11)
    book = m.book("binance", "BTCUSDT")
    bids, asks = dict(book.bids()), dict(book.asks())
    for _ in range(500):
        ch = m.step()[("binance", "BTCUSDT")]
        for levels, side in ((ch.bids, bids), (ch.asks, asks)):
            for p, s in levels:
                side.pop(p, None) if s == 0 else side.__setitem__(p, s)
    assert sorted(bids.items(), reverse=True) == book.bids()
    assert sorted(asks.items()) == book.asks()


def test_trades_print_at_the_touch_and_consume_it() -> None:
    m = _model(5)
    seen = 0
    for _ in range(300):
        book = m.book("binance", "BTCUSDT")
        before_bid, before_ask = book.best_bid(), book.best_ask()
        assert before_bid is not None and before_ask is not None
        ch = m.step()[("binance", "BTCUSDT")]
        for t in ch.trades:
            seen += 1
            assert t.qty > 0 and t.qty % BTC.lot == 0
            assert t.taker_side in (Side.BUY, Side.SELL)
    assert seen > 50


def test_forced_jump_dislocation_moves_one_venue_away_from_the_others() -> None:
    m = _model(9)
    m.dislocate("okx", "BTC", DislocationKind.JUMP, steps=5, offset=0.003)
    m.step()
    okx_mid = float(m.book("okx", "BTC-USDT-SWAP").mid())
    bn_mid = float(m.book("binance", "BTCUSDT").mid())
    assert okx_mid / bn_mid - 1 > 0.002


def test_random_dislocations_happen_and_end() -> None:
    m = MarketModel(2, ["BTC"], dislocation_prob=0.05)
    m.add_book("binance", BTC)
    m.add_book("okx", OKX_BTC)
    spreads = []
    for _ in range(600):
        m.step()
        spreads.append(abs(m.venue_mid("okx", "BTC") / m.venue_mid("binance", "BTC") - 1))
    assert max(spreads) > 0.0005
    assert sorted(spreads)[len(spreads) // 2] < 0.0005


def test_take_fills_across_levels_and_removes_liquidity() -> None:
    m = _model(4)
    book = m.book("binance", "BTCUSDT")
    asks = book.asks(3)
    assert asks[1][1] > BTC.lot
    want = asks[0][1] + BTC.lot
    fills = book.take(Side.BUY, want)
    assert [f.price for f in fills] == [asks[0][0], asks[1][0]]
    assert sum(f.qty for f in fills) == want
    assert book.asks(1)[0] == (asks[1][0], asks[1][1] - (want - asks[0][1]))
    ch = book.drain_changes()
    assert (asks[0][0], Decimal("0.000")) in ch.asks and len(ch.trades) == 2


def test_inverse_book_sizes_are_whole_usd_contracts() -> None:
    m = _model(1)
    book = m.book("deribit", "BTC-PERPETUAL")
    assert all(s % 10 == 0 for _, s in book.bids())
    assert isinstance(VenueBook, type)


def test_kline_aggregator_builds_ohlcv_per_interval() -> None:
    agg = KlineAggregator(60_000)
    agg.add(60_000, Decimal(10), Decimal(1), Decimal(10), True, 1)
    agg.add(60_500, Decimal(12), Decimal(2), Decimal(24), False, 2)
    agg.add(61_000, Decimal(9), Decimal(1), Decimal(9), True, 3)
    k = agg.add(120_001, Decimal(11), Decimal(1), Decimal(11), True, 4)
    first = agg.history()[0]
    assert (first.open, first.high, first.low, first.close, first.volume, first.trades) == (10, 12, 9, 9, 4, 3)
    assert first.taker_buy_volume == 2 and first.close_time == 119_999
    assert k.open_time == 120_000 and len(agg.history()) == 2
