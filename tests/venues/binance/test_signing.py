"""Binance signing: every vector of signing_vectors.json reproduces byte for byte; secrets stay hidden."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from venues import Credentials
from venues.binance.signing import API_KEY_HEADER, FORM_CONTENT_TYPE, sign, signed_request
from venues.http import Method

# USD-M General Info example (key/secret published in the doc), also in signing_vectors.json.
DOC_SECRET = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
DOC_KEY = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83"
DOC_PAYLOAD = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943"


def _vectors(top_json: Callable[[str], Any]) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = top_json("signing_vectors.json")["binance"]
    return vectors


def test_every_binance_vector_reproduces(top_json: Callable[[str], Any]) -> None:
    checked = []
    for v in _vectors(top_json):
        if "payload" in v:
            assert sign(v["secret"], v["payload"]) == v["expected_signature"], v["name"]
        if "payload_as_printed_in_doc" in v:
            # The doc's typo (a space after "timestamp=") is the only way its published value reproduces...
            assert sign(v["secret"], v["payload_as_printed_in_doc"]) == v["expected_signature_in_doc"]
            # ...and the payload actually sent (query + body, no '&' between) signs to the computed value.
            assert v["query_string"] + v["body"] == v["payload_corrected"]
            assert sign(v["secret"], v["payload_corrected"]) == v["expected_signature_corrected_computed"]
        checked.append(v["name"])
    assert checked == [
        "spot_doc_hmac_ascii",
        "spot_doc_hmac_non_ascii_percent_encoded",
        "usdm_doc_hmac_query_or_body",
        "usdm_doc_hmac_mixed_query_and_body",
        "usdm_computed_delete_order",
    ]


def test_mixed_query_and_body_request_signs_their_direct_concatenation(
    top_json: Callable[[str], Any],
) -> None:
    (v,) = [v for v in _vectors(top_json) if v["name"] == "usdm_doc_hmac_mixed_query_and_body"]
    query = parse_qsl(v["query_string"])
    body = [(k, val) for k, val in parse_qsl(v["body"]) if k not in ("recvWindow", "timestamp")]
    spec = signed_request(
        Method.POST, v["path"], Credentials("k", v["secret"]), 1591702613943, query=query, body=body
    )
    assert spec.query == v["query_string"]
    assert spec.body == f"{v['body']}&signature={v['expected_signature_corrected_computed']}".encode()


def test_computed_delete_vector_reproduces_through_the_request_builder(
    top_json: Callable[[str], Any],
) -> None:
    (v,) = [v for v in _vectors(top_json) if v["name"] == "usdm_computed_delete_order"]
    spec = signed_request(
        Method.DELETE,
        v["path"],
        Credentials(v["key"], v["secret"]),
        v["timestamp"],
        query=[("symbol", "BTCUSDT"), ("orderId", "283194212")],
    )
    assert spec.query == f"{v['payload']}&signature={v['expected_signature']}"
    assert spec.body == b"" and spec.headers == {API_KEY_HEADER: v["key"]}


def test_doc_example_one_and_two_reproduce_without_fixtures() -> None:
    expected = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    assert sign(DOC_SECRET, DOC_PAYLOAD) == expected
    params = [tuple(p.split("=")) for p in DOC_PAYLOAD.split("&")[:-2]]
    creds = Credentials(DOC_KEY, DOC_SECRET)
    as_body = signed_request(Method.POST, "/fapi/v1/order", creds, 1591702613943, body=params)  # type: ignore[arg-type]
    as_query = signed_request(Method.POST, "/fapi/v1/order", creds, 1591702613943, query=params)  # type: ignore[arg-type]
    assert as_body.body == f"{DOC_PAYLOAD}&signature={expected}".encode() and as_body.query == ""
    assert as_body.headers == {API_KEY_HEADER: DOC_KEY, "Content-Type": FORM_CONTENT_TYPE}
    assert as_query.query == f"{DOC_PAYLOAD}&signature={expected}" and as_query.body == b""


def test_non_ascii_values_are_percent_encoded_before_signing() -> None:
    spec = signed_request(Method.GET, "/x", Credentials("k", "s"), 1, query=[("symbol", "\uff11\uff12")])
    assert spec.query.startswith("symbol=%EF%BC%91%EF%BC%92&recvWindow=5000&timestamp=1&signature=")
    payload = spec.query.rsplit("&signature=", 1)[0]
    assert spec.query.endswith(sign("s", payload))


@pytest.mark.parametrize("secret", [DOC_SECRET, "tiny"])
def test_secret_never_appears_in_request_or_credential_reprs(secret: str) -> None:
    creds = Credentials(DOC_KEY, secret)
    spec = signed_request(Method.POST, "/fapi/v1/order", creds, 1, body=[("symbol", "BTCUSDT")])
    signature = spec.body.decode().rsplit("=", 1)[1]
    for text in (repr(spec), str(spec), repr(creds), str(creds)):
        assert secret not in text and signature not in text and DOC_KEY not in text
