"""Which storage account to use: a connection string locally, an account URL with managed identity in Azure.

Reads the Functions platform's own storage settings (``AzureWebJobsStorage`` or its identity-based
``AzureWebJobsStorage__*`` form), so the app has one storage account and one way to name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PLATFORM_STORAGE = "AzureWebJobsStorage"


class StorageConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StorageConfig:
    connection_string: str | None = None
    table_url: str | None = None
    queue_url: str | None = None
    blob_url: str | None = None
    client_id: str | None = None  # user-assigned managed identity

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

        if self.connection_string:
            return TableServiceClient.from_connection_string(self.connection_string)
        return TableServiceClient(endpoint=self.table_url or "", credential=self.credential())

    def queue_service(self) -> Any:
        from azure.storage.queue import QueueServiceClient

        if self.connection_string:
            return QueueServiceClient.from_connection_string(self.connection_string)
        return QueueServiceClient(account_url=self.queue_url or "", credential=self.credential())

    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        if self.connection_string:
            return BlobServiceClient.from_connection_string(self.connection_string)
        return BlobServiceClient(account_url=self.blob_url or "", credential=self.credential())
