"""Binance vocabularies: status map totality, execution types, error classes, client order ids."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages import OrderStatus
from venues.binance import codes
from venues.errors import (
    AuthError,
    DecodeError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    PostOnlyWouldTake,
    RateLimited,
    TimestampError,
    UnknownOrder,
    UnknownStatus,
    VenueReject,
    VenueUnavailable,
)

# The vocabulary file's suggested normalisation, in our enum.
NORMALIZED = {
    "open": OrderStatus.SUBMITTED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "filled": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "rejected": OrderStatus.REJECTED,
    "expired": OrderStatus.EXPIRED,
}


def test_status_map_is_total_over_the_vocabulary_file(top_json: Callable[[str], Any]) -> None:
    vocab = top_json("order_status_vocabularies.json")["binance_usdm"]
    assert sorted(vocab["values"]) == sorted(codes.ORDER_STATUS)
    for raw, info in vocab["values"].items():
        status = codes.order_status(raw)
        assert status is NORMALIZED[info["normalized"].split(" ")[0]], raw
        assert status.is_terminal is info["terminal"], raw
    assert sorted(vocab["execution_types"]) == sorted(e.value for e in codes.ExecutionType)


def test_status_map_without_fixtures() -> None:
    assert codes.order_status("NEW") is OrderStatus.SUBMITTED
    assert codes.order_status("CANCELED") is OrderStatus.CANCELLED
    assert codes.order_status("EXPIRED_IN_MATCH") is OrderStatus.EXPIRED


def test_unknown_status_raises_unknown_status_naming_the_known_ones() -> None:
    with pytest.raises(UnknownStatus) as info:
        codes.order_status("PENDING_NEW")
    assert info.value.raw == "PENDING_NEW" and info.value.venue == "binance"
    assert "NEW" in info.value.known and "EXPIRED_IN_MATCH" in str(info.value)


@pytest.mark.parametrize(
    ("raw", "quantity", "filled", "status"),
    [
        ("NEW", "0.01", "0", OrderStatus.SUBMITTED),
        ("TRIGGERING", "0.01", "0", OrderStatus.SUBMITTED),
        ("TRIGGERED", "0.01", "0", OrderStatus.SUBMITTED),
        ("TRIGGERED", "0.01", "0.004", OrderStatus.PARTIALLY_FILLED),
        ("FINISHED", "0.01", "0.01", OrderStatus.FILLED),
        ("FINISHED", "0", "0.3", OrderStatus.FILLED),  # a close-position order has no quantity of its own
        ("FINISHED", "0.01", "0.004", OrderStatus.CANCELLED),  # cancelled in the matching engine, part filled
        ("FINISHED", "0.01", "0", OrderStatus.CANCELLED),
        ("CANCELED", "0.01", "0", OrderStatus.CANCELLED),
        ("REJECTED", "0.01", "0", OrderStatus.REJECTED),
        ("EXPIRED", "0.01", "0", OrderStatus.EXPIRED),
    ],
)
def test_algo_statuses_map_by_what_the_matching_engine_filled(
    raw: str, quantity: str, filled: str, status: OrderStatus
) -> None:
    assert codes.algo_status(raw, Decimal(quantity), Decimal(filled)) is status


def test_an_unknown_algo_status_names_the_documented_ones() -> None:
    with pytest.raises(UnknownStatus, match="'PAUSED'; expected one of NEW, CANCELED, TRIGGERING"):
        codes.algo_status("PAUSED", Decimal(1), Decimal(0))


def test_post_only_would_take_is_a_definite_venue_reject(wire_json: Callable[[str], Any]) -> None:
    catalog = {c["code"]: c for c in wire_json("errors_catalog.json")["codes"]}
    assert catalog[-5022]["name"] == "GTX_ORDER_REJECT"
    assert issubclass(PostOnlyWouldTake, VenueReject) and not issubclass(PostOnlyWouldTake, VenueUnavailable)
    assert codes.error_class(-5022) is PostOnlyWouldTake


def test_unknown_execution_and_order_types_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match="unknown execution type 'FUNDING'"):
        codes.execution_type("FUNDING")
    with pytest.raises(DecodeError, match="unknown order type 'ICEBERG'"):
        codes.order_type("ICEBERG")


EXPECTED_CLASSES: dict[int, type[VenueReject]] = {
    -1003: RateLimited,
    -1015: RateLimited,
    -1021: TimestampError,
    -5028: TimestampError,
    -1022: AuthError,
    -2014: AuthError,
    -2015: AuthError,
    -2011: UnknownOrder,
    -2013: UnknownOrder,
    -2018: InsufficientFunds,
    -2019: InsufficientFunds,
    -4116: DuplicateClientOrderId,
    -1000: VenueUnavailable,
    -1001: VenueUnavailable,
    -1007: VenueUnavailable,
    -1102: InvalidParameter,
    -1111: InvalidParameter,
    -1121: InvalidParameter,
    -4164: InvalidParameter,
    -5022: PostOnlyWouldTake,
    -4061: InvalidParameter,
}


@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED_CLASSES.items()))
def test_error_code_maps_to_its_exception_class(code: int, cls: type[VenueReject]) -> None:
    assert codes.error_class(code) is cls


def test_every_catalogued_error_code_maps_to_a_venue_reject(wire_json: Callable[[str], Any]) -> None:
    catalog = wire_json("errors_catalog.json")["codes"]
    names = {c["code"]: c["name"] for c in catalog}
    for code in names:
        assert issubclass(codes.error_class(code), VenueReject), code
    # -1008 (system-level throttling) is documented on the general-info page, not in the error-code page
    assert {code for code in codes.ERROR_CLASSES if code not in names} == {-1008}
    assert names[-4116] == "DUPLICATED_CLIENT_ORDER_ID" and codes.error_class(-4116) is DuplicateClientOrderId
    assert names[-1021] == "INVALID_TIMESTAMP" and codes.error_class(-1021) is TimestampError


def test_make_client_order_id_keeps_valid_seeds_and_hashes_the_rest() -> None:
    assert codes.make_client_order_id("cb.strat-1:7/a_b") == "cb.strat-1:7/a_b"
    long_id = codes.make_client_order_id("intent with spaces and a very long tail 0123456789")
    assert len(long_id) == 36 and codes.is_valid_client_order_id(long_id)
    assert long_id.startswith("intent_with_spaces_-")
    assert codes.make_client_order_id("autoclose-1234567890123456789012345678901").startswith("c-autoclose")
    with pytest.raises(InvalidOrder, match="non-empty"):
        codes.make_client_order_id("")
    with pytest.raises(InvalidOrder, match="got 'a b'"):
        codes.check_client_order_id("a b")


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_generated_client_order_ids_are_valid_deterministic_and_distinct(a: str, b: str) -> None:
    id_a = codes.make_client_order_id(a)
    assert codes.is_valid_client_order_id(id_a) and len(id_a) <= codes.CLIENT_ORDER_ID_MAX_LEN
    assert codes.make_client_order_id(a) == id_a
    if a != b:
        assert codes.make_client_order_id(b) != id_a
