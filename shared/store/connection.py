"""Which storage account to use: a connection string locally, an account URL with managed identity in Azure.

Reads the Functions platform's own storage settings (``AzureWebJobsStorage`` or its identity-based
``AzureWebJobsStorage__*`` form), so the app has one storage account and one way to name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PLATFORM_STORAGE = "AzureWebJobsStorage"
# The webhook's and health's clients (``quick``): Graph wants the webhook's answer within 3 s, so one retry
# and short timeouts, then the caller answers 503 (the SDKs' defaults retry for over a minute).
QUICK_TIMEOUT_SECONDS = 2
QUICK_RETRIES = 1


class StorageConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StorageConfig:
    connection_string: str | None = None
    table_url: str | None = None
    queue_url: str | None = None
    blob_url: str | None = None
    client_id: str | None = None  # user-assigned managed identity
    quick: bool = False  # short timeouts and one retry (the webhook, health)
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)  # passed to every client

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageConfig:
        conn = env.get(PLATFORM_STORAGE, "").strip()
        if conn:
            return cls(connection_string=conn)
        prefix = PLATFORM_STORAGE + "__"
        account = env.get(prefix + "accountName", "").strip()
        table = env.get(prefix + "tableServiceUri", "").strip() or (
            f"https://{account}.table.core.windows.net" if account else "")
        queue = env.get(prefix + "queueServiceUri", "").strip() or (
            f"https://{account}.queue.core.windows.net" if account else "")
        blob = env.get(prefix + "blobServiceUri", "").strip() or (
            f"https://{account}.blob.core.windows.net" if account else "")
        if not (table and queue and blob):
            raise StorageConfigError(f"{PLATFORM_STORAGE}: not set; expected a connection string (locally "
                                     f"UseDevelopmentStorage=true) or {prefix}accountName with a managed identity")
        return cls(table_url=table, queue_url=queue, blob_url=blob,
                   client_id=env.get(prefix + "clientId", "").strip() or None)

    @classmethod
    def from_connection_string(cls, connection_string: str) -> StorageConfig:
        return cls(connection_string=connection_string)

    def credential(self) -> Any:
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

        if self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential(exclude_interactive_browser_credential=True)

    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        options = self._options(retry_total=QUICK_RETRIES, retry_backoff_factor=0.2, retry_backoff_max=1)
        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string, **options)
        return TableServiceClient(endpoint=self.table_url or "", credential=self.credential(), **options)

    def queue_service(self) -> Any:
        from azure.storage.queue import LinearRetry, QueueServiceClient

        options = self._storage_options(LinearRetry)
        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string, **options)
        return QueueServiceClient(account_url=self.queue_url or "", credential=self.credential(), **options)

    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient, LinearRetry

        options = self._storage_options(LinearRetry)
        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        return BlobServiceClient(account_url=self.blob_url or "", credential=self.credential(), **options)

    def _options(self, **quick: Any) -> dict[str, Any]:
        options = dict(self.options)
        if self.quick:
            options.update(quick, connection_timeout=QUICK_TIMEOUT_SECONDS, read_timeout=QUICK_TIMEOUT_SECONDS)
        return options

    def _storage_options(self, retry: Any) -> dict[str, Any]:
        if not self.quick:
            return self._options()
        return self._options(retry_policy=retry(backoff=0.2, random_jitter_range=0, retry_total=QUICK_RETRIES))
