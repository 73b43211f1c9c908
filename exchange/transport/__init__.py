"""How requests reach the engine and its events reach the edge: in process, or over Redis.

The API and the streams depend on two small interfaces, so they do not know where the
engine runs:

- `EnginePort`: `submit(command)` and `query(query)`, each answered once what it
  shows is committed, plus `ready`. In one process it is the `EngineActor` itself;
  in a gateway it is `exchange.transport.redis.RemoteEngine`.
- `exchange.streams.bus.Bus`: committed events, in commit order. In one process the
  actor publishes straight into an `InMemoryBus`; in a gateway
  `exchange.transport.redis.EventRelay` reads the engine's event stream into one.
"""

from __future__ import annotations

from typing import Any, Protocol

from exchange.engine.commands import Command
from exchange.engine.events import Event
from exchange.engine.queries import Query


class EnginePort(Protocol):
    """The engine as the edge sees it (an `EngineActor`, or a `RemoteEngine`)."""

    @property
    def ready(self) -> bool:
        """True when a command sent now would be applied."""
        ...

    @property
    def halted(self) -> bool:
        """True while the engine recovers from a failed commit."""
        ...

    async def submit(self, command: Command) -> list[Event]:
        """The command's events once committed; EngineUnavailableError otherwise."""
        ...

    async def query(self, query: Query) -> Any:
        """The query's answer at a committed point; EngineUnavailableError otherwise."""
        ...
