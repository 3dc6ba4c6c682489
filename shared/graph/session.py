"""The one place a process connects to Graph: the msgraph-sdk connection, the transport over it, and the
pieces built on the transport (the evidence gateway, the subscription manager, the calendar reads).

Graph calls of the pipeline run on one event loop in a background thread per process, so the connection is
built once and reused by every invocation (one msgraph-sdk connection belongs to one loop). One-off callers
(the mail timers, the admin commands) use :func:`graph_transport` for the length of their work.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from shared.graph.calendar import CalendarReader
from shared.graph.client import GraphTransport, connect
from shared.graph.index import DeltaLinks, MemoryDeltaLinks

if TYPE_CHECKING:
    from shared.graph.directory import ConsentSource
    from shared.graph.gateway import GraphGateway
    from shared.graph.subscriptions import SubscriptionManager, SubscriptionStore
    from shared.settings import Settings

T = TypeVar("T")


class GraphOwner(Protocol):
    """What building the process's Graph needs from the app (``shared.ports.Runtime`` extends it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def subscriptions(self) -> SubscriptionStore: ...

    def consent_source(self) -> ConsentSource: ...

    def notification_url(self) -> str: ...

    def lifecycle_url(self) -> str: ...


@asynccontextmanager
async def graph_transport(base_url: str, **options: Any) -> AsyncIterator[GraphTransport]:
    """A transport over a fresh connection to ``base_url``, closed when the block ends."""
    connection = connect(base_url)
    try:
        yield GraphTransport(connection.sender(), connection.base_url, **options)
    finally:
        await connection.aclose()


@dataclass
class Graph:
    """The Graph side of one process: the transport, the gateway and the subscription manager."""

    transport: GraphTransport
    gateway: GraphGateway
    manager: SubscriptionManager
    calendar: CalendarReader = field(init=False)
    delta_links: DeltaLinks = field(default_factory=MemoryDeltaLinks)

    def __post_init__(self) -> None:
        self.calendar = CalendarReader(self.transport)


GraphFactory = Callable[[GraphOwner], Coroutine[Any, Any, Graph]]


async def default_graph(runtime: GraphOwner) -> Graph:
    """From the app settings: managed identity (or the documented fallbacks) against ``graph_base_url``."""
    from shared.graph.gateway import GraphGateway
    from shared.graph.subscriptions import SubscriptionManager

    settings = runtime.settings
    connection = connect(settings.graph_base_url)
    transport = GraphTransport(connection.sender(), connection.base_url)
    stores = getattr(runtime, "stores", None)  # the app's tables; absent for a bare owner (tests)
    extra: dict[str, Any] = {}
    if stores is not None:
        extra = {"call_index": stores.call_record_index, "policy_refused": RecordedRefusals(stores.state)}
    gateway = GraphGateway.from_settings(transport, settings, runtime.consent_source(), **extra)
    manager = SubscriptionManager(transport, runtime.subscriptions, notification_url=runtime.notification_url(),
                                  lifecycle_url=runtime.lifecycle_url(),
                                  monitor_pupil_mailboxes=settings.monitor_pupil_mailboxes,
                                  adhoc_calls_granted=settings.watch_adhoc_calls)
    graph = Graph(transport, gateway, manager)
    if stores is not None:
        graph.delta_links = stores.delta_links
    return graph


class RecordedRefusals(set[str]):
    """Organisers whose meetings answered "No application access policy", counted in the state table
    (``no-access-policy``) where health and the digest read them."""

    def __init__(self, state: Any) -> None:
        super().__init__()
        self.state = state

    def add(self, organiser: str) -> None:
        if organiser not in self:
            super().add(organiser)
            self.state.add("no-access-policy", {organiser: 1})


class LoopThread:
    """One asyncio loop in a daemon thread; coroutines from any thread run on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vcaudit-graph", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 540.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


class GraphSession:
    """The process's Graph, built on first use by ``factory`` on the session's own loop."""

    def __init__(self, runtime: GraphOwner, factory: GraphFactory = default_graph) -> None:
        self._runtime = runtime
        self._factory = factory
        self._graph: Graph | None = None
        self._loop = LoopThread()

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = self._loop.run(self._factory(self._runtime))
        return self._graph

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run(coro)
