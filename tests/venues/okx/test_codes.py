"""OKX vocabularies: order states (total, unknown raises), error codes -> exception classes, clOrdId."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from messages.base import OrderStatus
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
from venues.okx.codes import (
    ORDER_STATUS,
    error_class,
    is_position_side_error,
    is_valid_client_order_id,
    make_client_order_id,
    make_error,
    order_status,
    validate_client_order_id,
)

OkxJson = Callable[[str], Any]


def test_status_map_is_total_over_the_documented_vocabulary(okx_json: OkxJson) -> None:
    vocab = okx_json("order_status_vocabularies.json")["okx_v5"]["values"]
    assert set(vocab) == set(ORDER_STATUS)
    for raw, info in vocab.items():
        status = order_status(raw)
        assert status.is_terminal is info["terminal"], raw


def test_each_okx_state_maps_to_its_unified_status() -> None:
    assert order_status("live") is OrderStatus.SUBMITTED
    assert order_status("partially_filled") is OrderStatus.PARTIALLY_FILLED
    assert order_status("filled") is OrderStatus.FILLED
    assert order_status("canceled") is OrderStatus.CANCELLED
    assert order_status("mmp_canceled") is OrderStatus.CANCELLED


def test_unknown_state_raises_unknown_status_naming_the_known_ones() -> None:
    with pytest.raises(UnknownStatus) as info:
        order_status("cancelled")  # Deribit's spelling, not OKX's
    assert info.value.raw == "cancelled"
    assert str(info.value) == (
        "unknown okx order status 'cancelled'; expected one of live, partially_filled, filled, canceled, mmp_canceled"
    )


@pytest.mark.parametrize(
    ("code", "http_status", "cls"),
    [
        ("50011", 200, RateLimited),
        ("50011", 429, RateLimited),
        ("50061", 200, RateLimited),
        ("50102", 401, TimestampError),
        ("50112", 401, TimestampError),
        ("50113", 401, AuthError),
        ("50111", 401, AuthError),
        ("50104", 401, AuthError),
        ("50105", 401, AuthError),
        ("60009", None, AuthError),
        ("50121", 200, IpBanned),
        ("51008", 200, InsufficientFunds),
        ("51603", 200, UnknownOrder),
        ("51400", 200, UnknownOrder),
        ("51016", 200, DuplicateClientOrderId),
        ("51000", 400, InvalidParameter),
        ("50001", 503, VenueUnavailable),
        ("50013", 429, VenueUnavailable),
        ("50026", 500, VenueUnavailable),
        ("51149", 500, VenueUnavailable),
        ("59999", 401, AuthError),  # unlisted code: the HTTP status decides
        ("59998", 502, VenueUnavailable),
        ("59997", 200, VenueReject),
    ],
)
def test_error_codes_map_to_the_right_exception(code: str, http_status: int | None, cls: type) -> None:
    assert error_class(code, http_status) is cls
    err = make_error(code, "text from okx", http_status, retry_after_s=1.5)
    assert type(err) is cls
    assert (err.venue, err.code, err.text, err.http_status) == ("okx", code, "text from okx", http_status)
    if isinstance(err, RateLimited):
        assert err.retry_after_s == 1.5


def test_every_catalogued_error_code_becomes_a_venue_reject_of_the_right_family(okx_json: OkxJson) -> None:
    codes = okx_json("okx/errors_catalog.json")["codes"]
    for entry in codes:
        err = make_error(entry["code"], entry["message"], entry["http_status"])
        assert isinstance(err, VenueReject)
        assert (err.code, err.text) == (entry["code"], entry["message"])
        if entry["http_status"] == 401:
            assert isinstance(err, (AuthError, TimestampError)), entry
        if entry["http_status"] >= 500:
            assert isinstance(err, VenueUnavailable), entry
        if entry["code"] == "50011":
            assert isinstance(err, RateLimited), entry
        if "Insufficient" in entry["message"] and entry["code"] in ("51008", "51131", "51502"):
            assert isinstance(err, InsufficientFunds), entry


def test_client_order_id_rule_and_deterministic_generator() -> None:
    assert is_valid_client_order_id("b15")
    assert is_valid_client_order_id("a" * 32)
    assert not is_valid_client_order_id("a" * 33)
    assert not is_valid_client_order_id("has-dash")
    assert not is_valid_client_order_id("")
    assert validate_client_order_id("oktswap6") == "oktswap6"
    with pytest.raises(InvalidOrder) as info:
        validate_client_order_id("bad_id!")
    assert str(info.value) == "okx clOrdId must be 1-32 ASCII letters or digits, got 'bad_id!' (7 chars)"
    assert make_client_order_id("abc123") == "abc123"
    generated = make_client_order_id("strategy-1/intent-42")
    assert generated == make_client_order_id("strategy-1/intent-42")
    assert generated.startswith("cb") and len(generated) == 32


@settings(max_examples=100, deadline=None)
@given(seed=st.text(max_size=80))
def test_generated_client_order_ids_are_always_valid(seed: str) -> None:
    assert is_valid_client_order_id(make_client_order_id(seed))


def test_a_pos_side_refusal_is_recognised_and_other_51000s_are_not() -> None:
    assert is_position_side_error(make_error("51000", "Parameter posSide error"))
    assert not is_position_side_error(make_error("51000", "Parameter px error"))
    assert not is_position_side_error(make_error("51169", "posSide long has no position"))
