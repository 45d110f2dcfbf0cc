"""Deribit status map, error-code map and client-order-id rule."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.base import OrderStatus
from venues.deribit import codes
from venues.errors import (
    AuthError,
    DuplicateClientOrderId,
    InsufficientFunds,
    InvalidOrder,
    InvalidParameter,
    IpBanned,
    RateLimited,
    TimestampError,
    UnknownOrder,
    UnknownStatus,
    VenueReject,
    VenueUnavailable,
)

D = Decimal


def test_status_map_is_total_over_the_documented_deribit_vocabulary(wire_root: Path) -> None:
    vocab = json.loads((wire_root / "order_status_vocabularies.json").read_text())["deribit_v2"]["values"]
    assert set(vocab) == set(codes.RAW_STATUSES)
    for raw, info in vocab.items():
        status = codes.order_status(raw, D(0), D(10))
        assert status.is_terminal == info["terminal"], raw


@pytest.mark.parametrize(
    ("raw", "filled", "amount", "expected"),
    [
        ("open", "0", "10", OrderStatus.SUBMITTED),
        ("open", "4", "10", OrderStatus.PARTIALLY_FILLED),
        ("open", "10", "10", OrderStatus.SUBMITTED),  # fully filled arrives as "filled", never as open
        ("untriggered", "0", "5", OrderStatus.PENDING),
        ("triggered", "0", "5", OrderStatus.SUBMITTED),
        ("filled", "37", "37", OrderStatus.FILLED),
        ("cancelled", "3", "10", OrderStatus.CANCELLED),
        ("rejected", "0", "10", OrderStatus.REJECTED),
    ],
)
def test_each_raw_state_maps_to_its_unified_status(
    raw: str, filled: str, amount: str, expected: OrderStatus
) -> None:
    assert codes.order_status(raw, D(filled), D(amount)) is expected


def test_unknown_raw_status_raises_unknown_status_naming_the_value() -> None:
    with pytest.raises(UnknownStatus) as info:
        codes.order_status("partially_filled")
    assert info.value.raw == "partially_filled"
    assert info.value.known == codes.RAW_STATUSES
    assert "partially_filled" in str(info.value) and "open" in str(info.value)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (10028, RateLimited),
        (13009, AuthError),
        (13004, AuthError),
        (10009, InsufficientFunds),
        (10004, UnknownOrder),
        (11044, UnknownOrder),
        (10040, VenueUnavailable),
        (13028, VenueUnavailable),
        (11050, InvalidParameter),
        (10041, VenueUnavailable),
        (11051, VenueUnavailable),
        (13032, DuplicateClientOrderId),
        (11056, IpBanned),
        (-32602, InvalidParameter),
        (99999, VenueReject),
    ],
)
def test_error_codes_map_to_the_right_exception_class(code: int, cls: type[VenueReject]) -> None:
    err = codes.make_error(code, "text", 400)
    assert type(err) is cls
    assert err.code == str(code) and err.text == "text" and err.http_status == 400


def test_auth_error_naming_the_timestamp_becomes_timestamp_error() -> None:
    err = codes.make_error(13009, 'unauthorized {"reason":"invalid timestamp"}')
    assert type(err) is TimestampError


def test_rate_limit_keeps_retry_after() -> None:
    err = codes.make_error(10028, "too_many_requests", 429, retry_after_s=2.5)
    assert isinstance(err, RateLimited) and err.retry_after_s == 2.5


def test_every_code_in_the_catalog_has_an_explicit_class(wire_root: Path) -> None:
    catalog = json.loads((wire_root / "deribit" / "errors_catalog.json").read_text())["codes"]
    missing = [c["code"] for c in catalog if c["code"] not in codes.ERROR_CLASSES]
    assert missing == []
    by_code = {c["code"]: c["message"] for c in catalog}
    assert by_code[10009] == "not_enough_funds" and codes.error_class(10009) is InsufficientFunds
    assert by_code[10028] == "too_many_requests" and codes.error_class(10028) is RateLimited


@pytest.mark.parametrize("cid", ["abc", "strat1_000042", "A-b_C-9", "x" * 64])
def test_valid_client_order_ids_pass_validation(cid: str) -> None:
    assert codes.validate_client_order_id(cid) == cid


@pytest.mark.parametrize("cid", ["", "x" * 65, "has space", "colon:id", "é"])
def test_invalid_client_order_ids_are_refused_with_the_rule_in_the_text(cid: str) -> None:
    with pytest.raises(InvalidOrder, match="1-64 characters"):
        codes.validate_client_order_id(cid)


def test_make_client_order_id_keeps_a_valid_seed_unchanged() -> None:
    assert codes.make_client_order_id("strat1-42") == "strat1-42"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_make_client_order_id_always_returns_a_valid_label(seed: str) -> None:
    codes.validate_client_order_id(codes.make_client_order_id(seed))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=80))
def test_distinct_seeds_give_distinct_labels(a: str, b: str) -> None:
    if a != b:
        assert codes.make_client_order_id(a) != codes.make_client_order_id(b)
