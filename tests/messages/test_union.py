from __future__ import annotations

import inspect
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import messages
from messages import BUS_TYPES, InstrumentId, OrderIntent, Quote, Side, Venue
from tests.strategies import for_struct


def test_every_bus_message_has_a_unique_tag_named_after_its_class() -> None:
    tags = [t.__struct_config__.tag for t in BUS_TYPES]
    assert tags == [t.__name__ for t in BUS_TYPES]
    assert len(set(tags)) == len(tags)


def test_every_bus_message_is_frozen_keyword_only_and_object_like() -> None:
    for t in BUS_TYPES:
        cfg = t.__struct_config__
        assert cfg.frozen, t
        params = inspect.signature(t).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), t
        assert not cfg.array_like, t
        assert cfg.tag_field == "type", t


def test_every_message_class_in_the_package_is_in_the_bus_union() -> None:
    exported = {getattr(messages, n) for n in messages.__all__}
    classes = {c for c in exported if isinstance(c, type) and issubclass(c, messages.Message) and c is not messages.Message}
    assert classes == set(BUS_TYPES)


@pytest.mark.parametrize("cls", BUS_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_message_round_trips_through_json_and_msgpack(cls: type, data: st.DataObject) -> None:
    msg = data.draw(for_struct(cls))
    assert messages.json_decoder.decode(messages.encode_json(msg)) == msg
    assert messages.msgpack_decoder.decode(messages.encode_msgpack(msg)) == msg


def test_decimal_order_fields_keep_their_exact_digits() -> None:
    intent = OrderIntent(
        strategy="arb",
        instrument=InstrumentId("BTC-USDT-PERP"),
        side=Side.BUY,
        quantity=Decimal("0.0010"),
        price=Decimal("96500.10"),
    )
    raw = messages.encode_json(intent)
    assert b'"quantity":"0.0010"' in raw and b'"price":"96500.10"' in raw
    back = messages.json_decoder.decode(raw)
    assert isinstance(back, OrderIntent) and str(back.price) == "96500.10"


def test_unknown_tag_is_a_typed_validation_error() -> None:
    with pytest.raises(msgspec.ValidationError, match="Invalid value 'Nope'"):
        messages.json_decoder.decode(b'{"type":"Nope"}')


def test_wrong_field_type_names_the_field() -> None:
    bad = b'{"type":"Quote","venue":"okx","instrument":"X","bid_px":"a","bid_sz":1,"ask_px":1,"ask_sz":1,"ts_event":1,"ts_recv":1}'
    with pytest.raises(msgspec.ValidationError, match=r"\$\.bid_px"):
        messages.json_decoder.decode(bad)


def test_messages_are_immutable() -> None:
    q = Quote(venue=Venue.OKX, instrument=InstrumentId("BTC-USDT-PERP"), bid_px=1.0, bid_sz=1.0, ask_px=2.0,
              ask_sz=1.0, ts_event=1, ts_recv=2)
    with pytest.raises(AttributeError):
        q.bid_px = 3.0  # type: ignore[misc]
