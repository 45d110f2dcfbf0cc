"""State machines as tables: the one lookup every machine uses, and its error.

A machine is a ``dict[(state, input), next state]``; what is not in the table is illegal. ``table`` builds
one from rows (per state: the inputs it allows and where each leads), so a machine reads like its diagram. The book sync
(venues/book.py), the circuit breaker (actors/circuit.py), the actor lifecycle (actors/lifecycle.py) and
the order journal (actors/journal.py) are tables read through ``step``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from venues.errors import LocalError

__all__ = ["IllegalTransition", "step", "table"]

S = TypeVar("S", bound=enum.Enum)
I = TypeVar("I", bound=enum.Enum)  # noqa: E741 - the input of a machine


class IllegalTransition(LocalError):
    """An input the machine's table does not allow in its state (a bug in the caller, never the venue's)."""

    def __init__(self, machine: str, state: enum.Enum, event: enum.Enum) -> None:
        self.machine = machine
        self.state = state
        self.event = event
        super().__init__(f"{machine}: input {event.value!r} is illegal in state {state.value!r}")


def step(table: Mapping[tuple[S, I], S], machine: str, state: S, event: I) -> S:
    """The state after ``event`` in ``state``.

    Raises:
        IllegalTransition: the pair is not in ``table`` (``machine`` names it in the message).
    """
    try:
        return table[(state, event)]
    except KeyError:
        raise IllegalTransition(machine, state, event) from None


def table(rows: Mapping[S, Mapping[I, S]]) -> dict[tuple[S, I], S]:
    """A machine's table from its rows.

    Args:
        rows: Per state, the inputs allowed in it and the state each leads to.

    Returns:
        The flat ``(state, input) -> state`` map that ``step`` reads.
    """
    return {(state, event): nxt for state, row in rows.items() for event, nxt in row.items()}
