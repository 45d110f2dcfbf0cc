"""Venue twins: loopback aiohttp servers speaking each exchange's real wire protocol.

Nothing in this package imports ``venues/`` or ``actors/``; twins are built from exchange docs and the wire
fixtures only. See simulator/README.md for the core API and the admin/fault endpoints.
"""

from simulator.book import BookChanges, BookMirror, PublicTrade, Side, VenueBook
from simulator.faults import FaultController, FaultKind
from simulator.instruments import InstrumentSpec
from simulator.latency import LatencyProfile
from simulator.market import MarketModel
from simulator.matching import MatchingEngine, OrderRequest
from simulator.runner import Twins, default_factories, start_twins
from simulator.twin import Credentials, Twin, TwinUrls

__all__ = [
    "BookChanges", "BookMirror", "PublicTrade", "Side", "VenueBook", "FaultController", "FaultKind",
    "InstrumentSpec", "LatencyProfile", "MarketModel", "MatchingEngine", "OrderRequest", "Twins", "default_factories",
    "start_twins", "Credentials", "Twin", "TwinUrls",
]
