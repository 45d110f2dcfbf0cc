"""Every Bybit entry of signing_vectors.json reproduces byte for byte; secrets stay out of reprs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from messages.base import ClientOrderId, InstrumentId, Side, Venue
from messages.orders import PlaceOrder
from tests.venues.bybit.sample_registry import BTC_PERP
from tests.venues.bybit.wire_files import wire_json
from venues import Credentials
from venues.bybit import frames, rest, signing

SECRET = "test-secret-not-real"
KEY = "test-key-not-real"


def _vector(name: str) -> dict[str, Any]:
    for v in wire_json("signing_vectors.json")["bybit"]:
        if v["name"] == name:
            return dict(v)
    pytest.fail(f"no bybit signing vector named {name}")


def test_every_bybit_vector_string_to_sign_is_rebuilt_exactly() -> None:
    for v in wire_json("signing_vectors.json")["bybit"]:
        if "timestamp" not in v:
            continue
        payload = v.get("query", v.get("body", ""))
        built = signing.string_to_sign(v["timestamp"], v["api_key"], v["recv_window"], payload)
        assert built == v["string_to_sign"].encode(), v["name"]


def test_computed_get_vector_signature_and_headers_match() -> None:
    v = _vector("v5_computed_get_positions")
    headers = signing.signed_headers(Credentials(v["api_key"], v["secret"]), int(v["timestamp"]), v["query"])
    assert headers == v["headers"]
    assert headers["X-BAPI-SIGN"] == v["expected_signature"]


def test_positions_builder_signs_the_vector_query_exactly() -> None:
    v = _vector("v5_computed_get_positions")
    spec = rest.positions(Credentials(v["api_key"], v["secret"]), int(v["timestamp"]), symbol="BTCUSDT")
    assert spec.path == v["path"]
    assert spec.query == v["query"]
    assert spec.headers == v["headers"]


def test_computed_post_vector_signature_matches() -> None:
    v = _vector("v5_computed_post_create_order")
    assert signing.sign(v["secret"], v["string_to_sign"]) == v["expected_signature"]


def test_place_order_builder_produces_the_vector_body_and_signature() -> None:
    v = _vector("v5_computed_post_create_order")
    order = PlaceOrder(
        venue=Venue.BYBIT, instrument=InstrumentId("BTC-USDT-PERP"), client_order_id=ClientOrderId("test-001"),
        side=Side.BUY, quantity=Decimal("0.001"), price=Decimal("25000"),
    )  # fmt: skip
    spec = rest.place_order(Credentials(v["api_key"], v["secret"]), int(v["timestamp"]), order, BTC_PERP,
                            position_idx=0)
    assert spec.body == v["body"].encode()
    assert spec.path == v["path"]
    assert spec.headers["X-BAPI-SIGN"] == v["expected_signature"]
    assert spec.headers["X-BAPI-TIMESTAMP"] == v["timestamp"]
    assert spec.idempotent is False


def test_ws_auth_vector_signature_and_frame_match() -> None:
    v = _vector("v5_computed_ws_auth")
    assert signing.ws_auth_signature(v["secret"], v["expires"]) == v["expected_signature"]
    frame = frames.auth(Credentials(v["api_key"], v["secret"]), v["expires"])
    assert json.loads(frame) == v["ws_message"]


def test_doc_vectors_are_marked_unverifiable_and_only_their_string_is_checked() -> None:
    docs = [
        v for v in wire_json("signing_vectors.json")["bybit"] if v["provenance"].startswith("official-doc")
    ]
    assert [v["doc_signature_verifiable"] for v in docs] == [False, False]
    post = _vector("v5_doc_string_to_sign_post")
    # The body is signed as sent: the space after the colon is part of it.
    assert signing.string_to_sign(
        post["timestamp"], post["api_key"], post["recv_window"], post["body"]
    ).endswith(b'{"category": "option"}')


def test_own_known_answer_hmac_matches_rfc4231_case_2() -> None:
    # RFC 4231 test case 2, independent of the fixtures.
    assert signing.sign("Jefe", b"what do ya want for nothing?") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_secret_and_signature_never_appear_in_request_repr() -> None:
    creds = Credentials(KEY, SECRET)
    spec = rest.wallet_balance(creds, 1_700_000_000_000)
    text = repr(spec) + str(spec) + repr(creds)
    assert SECRET not in text
    assert spec.headers["X-BAPI-SIGN"] not in text
    assert KEY not in text


def test_auth_frame_carries_no_secret() -> None:
    frame = frames.auth(Credentials(KEY, SECRET), 1_700_000_001_000)
    assert SECRET.encode() not in frame
