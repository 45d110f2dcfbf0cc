"""The actor lifecycle as a table: (state, input) -> state. Pure; no I/O.

    NEW --start--> STARTING --started--> RUNNING --stop--> STOPPING --stopped--> STOPPED
                       |                    |                  |
                       +------fail----------+-------fail-------+--> FAILED
"""

from __future__ import annotations

import enum

from venues.machine import step, table

__all__ = ["ActorState", "ActorInput", "LIFECYCLE_TABLE", "next_actor_state"]


class ActorState(enum.StrEnum):
    NEW = "new"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


class ActorInput(enum.StrEnum):
    START = "start"
    STARTED = "started"
    STOP = "stop"
    STOPPED = "stopped"
    FAIL = "fail"


_S = ActorState
_I = ActorInput
LIFECYCLE_TABLE: dict[tuple[ActorState, ActorInput], ActorState] = table({
    _S.NEW: {_I.START: _S.STARTING, _I.STOP: _S.STOPPED},
    _S.STARTING: {_I.STARTED: _S.RUNNING, _I.STOP: _S.STOPPING, _I.FAIL: _S.FAILED},
    _S.RUNNING: {_I.STOP: _S.STOPPING, _I.STOPPED: _S.STOPPED, _I.FAIL: _S.FAILED},
    _S.STOPPING: {_I.STOP: _S.STOPPING, _I.STOPPED: _S.STOPPED, _I.FAIL: _S.FAILED},
    _S.STOPPED: {_I.STOP: _S.STOPPED},
    _S.FAILED: {_I.STOP: _S.FAILED},
})

def next_actor_state(state: ActorState, event: ActorInput) -> ActorState:
    """Raises IllegalTransition for a pair not in the table (e.g. starting an actor twice)."""
    return step(LIFECYCLE_TABLE, "actor lifecycle", state, event)
