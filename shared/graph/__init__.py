"""Microsoft Graph access: the gateway that gathers evidence bundles, and the subscription manager.

Importing this package is cheap: it pulls in neither msgraph-sdk nor azure-identity (their import costs about
half a second and tens of megabytes, docs/graph-facts.md §10). The webhook path imports only what it needs from here
(``verify_client_state``, the error types); the queue workers import ``shared.graph.gateway`` and
``shared.graph.subscriptions``, and msgraph itself is imported on the first connection
(``shared.graph.client.connect``).
"""

from __future__ import annotations

from shared.graph.errors import GraphError, GraphThrottled
from shared.graph.secrets import new_client_state, verify_client_state

__all__ = ["GraphError", "GraphThrottled", "new_client_state", "verify_client_state"]
