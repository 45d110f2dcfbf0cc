"""Status map totality, error-code classes, kline intervals and client order ids."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.base import OrderStatus, Side, TimeInForce
from tests.venues.bybit.wire_files import wire_json
from venues.bybit import codes
from venues.errors import (
    AuthError,
    ConfigError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    RateLimited,
    TimestampError,
    UnknownOrder,
    UnknownStatus,
    VenueReject,
    VenueUnavailable,
)


def test_status_map_is_total_over_the_fixture_vocabulary() -> None:
    values = wire_json("order_status_vocabularies.json")["bybit_v5"]["values"]
    assert set(values) == set(codes.ORDER_STATUS)
    for raw, meta in values.items():
        status = codes.order_status(raw)
        # Bybit's "terminal" flag agrees with ours for every value (Triggered is transient, not terminal).
        assert status.is_terminal == meta["terminal"], raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("New", OrderStatus.SUBMITTED),
        ("PartiallyFilled", OrderStatus.PARTIALLY_FILLED),
        ("Untriggered", OrderStatus.SUBMITTED),
        ("Triggered", OrderStatus.SUBMITTED),
        ("Rejected", OrderStatus.REJECTED),
        ("PartiallyFilledCanceled", OrderStatus.CANCELLED),
        ("Filled", OrderStatus.FILLED),
        ("Cancelled", OrderStatus.CANCELLED),
        ("Deactivated", OrderStatus.CANCELLED),
    ],
)
def test_each_documented_status_maps_to_its_unified_status(raw: str, expected: OrderStatus) -> None:
    assert codes.order_status(raw) is expected


@pytest.mark.parametrize("raw", ["Canceled", "CANCELLED", "new", "", "Expired"])
def test_unknown_status_raises_unknown_status_naming_the_value(raw: str) -> None:
    with pytest.raises(UnknownStatus) as info:
        codes.order_status(raw)
    assert info.value.raw == raw
    assert "Cancelled" in info.value.known
    assert repr(raw) in str(info.value)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10001, InvalidParameter),
        (10002, TimestampError),
        (10003, AuthError),
        (10004, AuthError),
        (10005, AuthError),
        (10006, RateLimited),
        (10016, VenueUnavailable),
        (10000, VenueUnavailable),
        (110001, UnknownOrder),
        (110007, InsufficientFunds),
        (110004, InsufficientFunds),
        (110072, DuplicateClientOrderId),
        (170141, DuplicateClientOrderId),
        (110094, InvalidParameter),
        (110008, VenueReject),
        (999999, VenueReject),
    ],
)
def test_error_codes_map_to_their_exception_class(code: int, cls: type[VenueReject]) -> None:
    assert codes.error_class(code) is cls


def test_every_catalog_code_has_a_venue_reject_class_and_named_codes_are_specific() -> None:
    catalog = wire_json("bybit/errors_catalog.json")["codes"]
    by_code = {c["code"]: c["message"] for c in catalog}
    for code in by_code:
        assert issubclass(codes.error_class(code), VenueReject)
    # The catalog's own words agree with the class we chose.
    assert "time window" in by_code[10002] and codes.error_class(10002) is TimestampError
    assert "Error sign" in by_code[10004] and codes.error_class(10004) is AuthError
    assert "Rate Limit" in by_code[10006] and codes.error_class(10006) is RateLimited
    assert by_code[110001] == "Order does not exist" and codes.error_class(110001) is UnknownOrder
    assert "insufficient" in by_code[110007] and codes.error_class(110007) is InsufficientFunds
    assert "duplicate" in by_code[110072].lower() and codes.error_class(110072) is DuplicateClientOrderId
    assert "Server error" in by_code[10016] and codes.error_class(10016) is VenueUnavailable
    for code in codes.ERROR_CLASSES:
        if code not in (429, 10018):  # 429 is listed under "UTA" text; 10018 is documented on rate-limit.mdx
            assert code in by_code, code


def test_sides_order_types_and_time_in_force_round_trip() -> None:
    assert codes.side("Buy") is Side.BUY and codes.side("Sell") is Side.SELL
    assert codes.side_to_wire(Side.SELL) == "Sell"
    assert codes.time_in_force_to_wire(TimeInForce.GTC, post_only=True) == "PostOnly"
    assert codes.time_in_force_to_wire(TimeInForce.IOC, post_only=False) == "IOC"
    assert codes.time_in_force_to_wire(TimeInForce.FOK, post_only=False) == "FOK"
    with pytest.raises(InvalidOrder, match="expected time in force gtc, got ioc"):
        codes.time_in_force_to_wire(TimeInForce.IOC, post_only=True)
    with pytest.raises(DecodeError, match="expected 'Buy' or 'Sell', got 'buy'"):
        codes.side("buy")


def test_kline_intervals_map_both_ways_and_refuse_unknown_ones() -> None:
    assert codes.kline_interval("5") == "5m"
    assert codes.kline_interval("D") == "1d"
    assert codes.kline_interval_to_wire("1h") == "60"
    with pytest.raises(DecodeError):
        codes.kline_interval("7")
    with pytest.raises(ConfigError):
        codes.kline_interval_to_wire("7m")


@pytest.mark.parametrize("cid", ["usdt-test-01", "a", "x" * 36, "A_b-9"])
def test_valid_client_order_ids_are_accepted_unchanged(cid: str) -> None:
    assert codes.validate_client_order_id(cid) == cid
    assert codes.make_client_order_id(cid) == cid


@pytest.mark.parametrize("cid", ["", "x" * 37, "has space", "colon:1", "ünï"])
def test_invalid_client_order_ids_are_refused_with_the_rule(cid: str) -> None:
    with pytest.raises(InvalidOrder, match=r"1-36 characters of \[A-Za-z0-9_-\]"):
        codes.validate_client_order_id(cid)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_make_client_order_id_is_always_valid_and_deterministic(seed: str) -> None:
    cid = codes.make_client_order_id(seed)
    assert codes.is_valid_client_order_id(cid)
    assert codes.make_client_order_id(seed) == cid


def test_make_client_order_id_keeps_distinct_long_seeds_distinct() -> None:
    a = codes.make_client_order_id("strategy-arbitrage:" + "x" * 40 + ":1")
    b = codes.make_client_order_id("strategy-arbitrage:" + "x" * 40 + ":2")
    assert a != b
    assert len(a) == 36
