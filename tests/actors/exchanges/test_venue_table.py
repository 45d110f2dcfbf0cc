"""The venue table holds one entry per venue, each naming the adapter of that venue and environments it can reach."""

from __future__ import annotations

import pytest

from actors.exchanges.venue_table import VENUE_TABLE
from messages import Venue
from venues.symbols import InstrumentRegistry


def test_every_venue_has_an_entry() -> None:
    assert set(VENUE_TABLE) == set(Venue)


@pytest.mark.parametrize("venue", list(Venue))
def test_each_entry_builds_the_adapter_of_its_venue_on_either_environment(venue: Venue) -> None:
    entry = VENUE_TABLE[venue]
    live = entry.adapter(InstrumentRegistry(), entry.live)
    testnet = entry.adapter(InstrumentRegistry(), entry.testnet, **entry.testnet_options)
    assert live.venue is venue and testnet.venue is venue
    assert (live.endpoints, testnet.endpoints) == (entry.live, entry.testnet)
    assert set(entry.testnet.ws) == set(entry.live.ws)
