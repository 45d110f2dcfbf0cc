"""Hypothesis strategies built from msgspec's own type information, so every message type is covered."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

__all__ = ["for_struct", "for_type"]

_cache: dict[Any, st.SearchStrategy[Any]] = {}


def for_type(t: mi.Type) -> st.SearchStrategy[Any]:
    match t:
        case mi.BoolType():
            return st.booleans()
        case mi.IntType():
            return st.integers(min_value=-(2**63), max_value=2**63 - 1)
        case mi.FloatType():
            return st.floats(allow_nan=False, allow_infinity=False)
        case mi.StrType():
            return st.text(max_size=20)
        case mi.DecimalType():
            return st.decimals(allow_nan=False, allow_infinity=False, places=8, min_value=Decimal("-1e12"),
                               max_value=Decimal("1e12"))
        case mi.EnumType(cls=cls):
            return st.sampled_from(list(cls))
        case mi.NoneType():
            return st.none()
        case mi.UnionType(types=types):
            return st.one_of(*[for_type(x) for x in types])
        case mi.VarTupleType(item_type=item):
            return st.lists(for_type(item), max_size=4).map(tuple)
        case mi.TupleType(item_types=items):
            return st.tuples(*[for_type(x) for x in items])
        case mi.ListType(item_type=item):
            return st.lists(for_type(item), max_size=4)
        case mi.DictType(key_type=k, value_type=v):
            return st.dictionaries(for_type(k), for_type(v), max_size=3)
        case mi.StructType(cls=cls):
            return for_struct(cls)
    raise NotImplementedError(f"no strategy for {t!r}")


def for_struct(cls: type) -> st.SearchStrategy[Any]:
    if cls not in _cache:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        fields = {f.name: for_type(f.type) for f in info.fields}
        _cache[cls] = st.builds(cls, **fields)
    return _cache[cls]
