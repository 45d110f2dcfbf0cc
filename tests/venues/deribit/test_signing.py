"""Deribit signatures reproduce the documented and computed vectors byte for byte."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from venues import Credentials
from venues.deribit import frames, signing

# The official doc vector (also in shared/fixtures/wire/signing_vectors.json).
DOC_ID, DOC_SECRET, DOC_TS, DOC_NONCE = "AMANDA", "AMANDASECRECT", 1576074319000, "1iqt2wls"


def _vectors(root: Path) -> list[dict[str, Any]]:
    vectors: list[dict[str, Any]] = json.loads((root / "signing_vectors.json").read_text())["deribit"]
    return vectors


def test_client_signature_of_the_doc_example_matches_the_documented_hex() -> None:
    creds = Credentials(DOC_ID, DOC_SECRET)
    assert signing.client_signature_payload(DOC_TS, DOC_NONCE) == "1576074319000\n1iqt2wls\n"
    assert (
        signing.client_signature(creds, DOC_TS, DOC_NONCE)
        == "56590594f97921b09b18f166befe0d1319b198bbcdad7ca73382de2f88fe9aa1"
    )


def test_every_deribit_signing_vector_reproduces_byte_for_byte(wire_root: Path) -> None:
    for vec in _vectors(wire_root):
        creds = Credentials(vec["client_id"], vec["secret"])
        if "method" in vec:
            s2s = signing.rest_string_to_sign(
                vec["timestamp"], vec["nonce"], vec["method"], vec["uri"], vec["body"]
            )
            assert s2s == vec["string_to_sign"], vec["name"]
            sig = signing.rest_signature(
                creds, vec["timestamp"], vec["nonce"], vec["method"], vec["uri"], vec["body"]
            )
            assert sig == vec["expected_signature"], vec["name"]
            header = signing.rest_authorization(
                creds, vec["timestamp"], vec["nonce"], vec["method"], vec["uri"], vec["body"]
            )
            assert header == vec["authorization_header"], vec["name"]
        else:
            payload = signing.client_signature_payload(vec["timestamp"], vec["nonce"], vec["data"])
            assert payload == vec["string_to_sign"], vec["name"]
            sig = signing.client_signature(creds, vec["timestamp"], vec["nonce"], vec["data"])
            assert sig == vec["expected_signature"], vec["name"]


def test_ws_auth_frame_equals_the_documented_public_auth_message(wire_root: Path) -> None:
    vec = next(v for v in _vectors(wire_root) if "ws_message" in v)
    creds = Credentials(vec["client_id"], vec["secret"])
    frame = frames.auth_frame(vec["ws_message"]["id"], creds, vec["timestamp"], vec["nonce"], vec["data"])
    assert msgspec.json.decode(frame) == vec["ws_message"]


def test_rest_string_to_sign_keeps_three_trailing_newlines_for_an_empty_body() -> None:
    s2s = signing.rest_string_to_sign(1, "n", "get", "/api/v2/private/get_positions?currency=BTC")
    assert s2s == "1\nn\nGET\n/api/v2/private/get_positions?currency=BTC\n\n"


def test_rest_signature_differs_when_the_body_changes() -> None:
    creds = Credentials(DOC_ID, DOC_SECRET)
    a = signing.rest_signature(creds, DOC_TS, DOC_NONCE, "POST", "/api/v2/private/buy", b"{}")
    b = signing.rest_signature(creds, DOC_TS, DOC_NONCE, "POST", "/api/v2/private/buy", b"{ }")
    assert a != b and len(a) == 64


@pytest.mark.parametrize("secret", ["AMANDASECRECT", "s3cr3t-value-xyz"])
def test_secret_never_appears_in_credentials_repr_or_auth_frame(secret: str) -> None:
    creds = Credentials(DOC_ID, secret)
    assert secret not in repr(creds) and secret not in str(creds)
    assert secret.encode() not in frames.auth_frame(1, creds, DOC_TS, DOC_NONCE)
