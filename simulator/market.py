"""Seeded cross-venue market model: latent fair prices, per-venue noise and short-lived dislocations.

Invariants:
- Everything is driven by one ``random.Random(seed)``: the same seed, underlyings, books (added in the
  same order) and step count give byte-identical books and trades.
- Venue mids = fair price x (1 + venue noise + dislocation offset); a LAG dislocation freezes a venue's mid
  for a few steps, a JUMP dislocation adds an offset that decays to zero. So cross-venue arbitrage exists
  but is short-lived.
- The model owns every ``VenueBook``; twins read them and call ``take`` through their matching engine, but
  never step them themselves.
- Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass

from simulator.book import BookChanges, VenueBook
from simulator.instruments import InstrumentSpec, underlying

__all__ = ["MarketModel", "Dislocation", "DislocationKind", "BookKey"]

BookKey = tuple[str, str]
"""(venue, symbol) as chosen by the twin."""


class DislocationKind(enum.StrEnum):
    LAG = "lag"  # the venue's mid stops following the fair price
    JUMP = "jump"  # the venue's mid is offset, decaying back to fair


@dataclass(slots=True)
class Dislocation:
    """An active dislocation of one venue on one underlying."""

    kind: DislocationKind
    steps_left: int
    offset: float = 0.0  # relative, for JUMP
    frozen_mid: float = 0.0  # for LAG


class MarketModel:
    """Latent prices plus one generated book per (venue, symbol).

    Args:
        seed: Seed for the single random generator.
        underlyings: Underlying codes to price (e.g. ``("BTC", "ETH")``).
        dislocation_prob: Probability per step, per (venue, underlying), that a dislocation starts.
        venue_noise: Std-dev of each venue's mean-reverting relative offset from fair.

    Example:
        >>> model = MarketModel(seed=1, underlyings=["BTC"])
        >>> book = model.add_book("binance", spec)   # spec: InstrumentSpec chosen by the twin
        >>> changes = model.step()[("binance", spec.symbol)]
    """

    def __init__(
        self,
        seed: int,
        underlyings: Iterable[str],
        *,
        dislocation_prob: float = 0.002,
        venue_noise: float = 1.0e-4,
    ) -> None:
        self.rng = random.Random(seed)
        self._under = {u.name: u for u in (underlying(n) for n in underlyings)}
        self._fair: dict[str, float] = {name: u.start_price for name, u in self._under.items()}
        self._books: dict[BookKey, VenueBook] = {}
        self._noise: dict[tuple[str, str], float] = {}
        self._disloc: dict[tuple[str, str], Dislocation] = {}
        self._dislocation_prob = dislocation_prob
        self._venue_noise = venue_noise
        self.steps = 0

    @property
    def underlyings(self) -> list[str]:
        return list(self._under)

    def fair_price(self, underlying_name: str) -> float:
        """The latent fair price (USD) of an underlying."""
        return self._fair[underlying_name]

    def venue_mid(self, venue: str, underlying_name: str) -> float:
        """The mid a venue is quoting toward right now (fair x noise x dislocation)."""
        key = (venue, underlying_name)
        d = self._disloc.get(key)
        if d is not None and d.kind is DislocationKind.LAG:
            return d.frozen_mid
        offset = self._noise.get(key, 0.0) + (d.offset if d is not None else 0.0)
        return self._fair[underlying_name] * (1.0 + offset)

    def add_book(self, venue: str, spec: InstrumentSpec) -> VenueBook:
        """Create (or return) the book of ``spec.symbol`` on ``venue``.

        Raises:
            KeyError: ``spec.underlying`` is not priced by this model.
        """
        key = (venue, spec.symbol)
        if key in self._books:
            return self._books[key]
        if spec.underlying not in self._fair:
            msg = f"{venue} {spec.symbol}: underlying {spec.underlying!r} not in model ({', '.join(self._fair)})"
            raise KeyError(msg)
        self._noise.setdefault((venue, spec.underlying), 0.0)
        book = VenueBook(spec, self.venue_mid(venue, spec.underlying), self.rng)
        self._books[key] = book
        return book

    def book(self, venue: str, symbol: str) -> VenueBook:
        """The live book of one (venue, symbol)."""
        return self._books[(venue, symbol)]

    def books(self, venue: str | None = None) -> dict[BookKey, VenueBook]:
        """All books, or those of one venue."""
        return {k: b for k, b in self._books.items() if venue is None or k[0] == venue}

    def dislocate(self, venue: str, underlying_name: str, kind: DislocationKind, steps: int, offset: float = 0.0) -> None:
        """Force a dislocation (tests and benches use this to create a known arbitrage).

        Args:
            venue: Venue whose mid is dislocated.
            underlying_name: Underlying code.
            kind: LAG freezes the venue's current mid; JUMP offsets it by ``offset`` (relative, e.g. 0.002).
            steps: How many model steps it lasts.
            offset: Relative offset for JUMP.
        """
        frozen = self.venue_mid(venue, underlying_name)
        self._disloc[(venue, underlying_name)] = Dislocation(kind, steps, offset, frozen)

    def step(self) -> dict[BookKey, BookChanges]:
        """Advance fair prices, venue noise and dislocations one step, then move every book.

        Returns:
            The changes of every book, keyed by (venue, symbol).
        """
        rng = self.rng
        self.steps += 1
        for name, u in self._under.items():
            self._fair[name] *= math.exp(rng.gauss(0.0, u.step_vol))
        for key in list(self._noise):
            # Ornstein-Uhlenbeck-ish: pull back toward 0, plus a small shock.
            self._noise[key] = 0.95 * self._noise[key] + rng.gauss(0.0, self._venue_noise * 0.3)
            d = self._disloc.get(key)
            if d is not None:
                d.steps_left -= 1
                d.offset *= 0.9
                if d.steps_left <= 0:
                    del self._disloc[key]
            elif rng.random() < self._dislocation_prob:
                kind = DislocationKind.LAG if rng.random() < 0.5 else DislocationKind.JUMP
                offset = rng.choice((-1, 1)) * rng.uniform(0.0005, 0.002)
                self.dislocate(key[0], key[1], kind, rng.randint(5, 30), offset)
        out: dict[BookKey, BookChanges] = {}
        for key, book in self._books.items():
            out[key] = book.apply_step(rng, self.venue_mid(key[0], book.spec.underlying))
        return out
