"""What the pipeline's pieces need from the app, as a typed protocol; ``shared.runtime`` provides it.

The pieces (``scheduling``, ``evaluation``, ``upkeep``) and the Graph session depend on this protocol only, so
nothing in the domain imports the composition root that builds them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from shared.graph.session import GraphOwner

if TYPE_CHECKING:
    from shared.policy.policyfile import Policy
    from shared.store.queues import Queues
    from shared.store.tables import Stores


class Runtime(GraphOwner, Protocol):
    """The app's settings, stores, queues and deployed policy, and what its Graph is built from."""

    @property
    def stores(self) -> Stores: ...

    @property
    def queues(self) -> Queues: ...

    @property
    def policy(self) -> Policy: ...
