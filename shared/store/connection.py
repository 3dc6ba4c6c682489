"""Which storage account to use: a connection string locally, an account URL with managed identity in Azure.

Reads the Functions platform's own storage settings (``AzureWebJobsStorage`` or its identity-based
``AzureWebJobsStorage__*`` form), so the app has one storage account and one way to name it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
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
    connection_timeout: float | None = None  # seconds; None: the SDK's defaults (the app's own clients)
    retries: int | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageConfig:
        conn = env.get(PLATFORM_STORAGE, "").strip()
        if conn:
            _check_connection_string(conn, PLATFORM_STORAGE)
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
    def from_connection_string(cls, connection_string: str, *, name: str = "--connection-string") -> StorageConfig:
        _check_connection_string(connection_string, name)
        return cls(connection_string=connection_string)

    def for_command(self, timeout: float = 5.0, retries: int = 1) -> StorageConfig:
        """The same account with a short timeout and one retry: a command run by hand says within seconds,
        in one line, that storage cannot be reached, instead of retrying for minutes."""
        return replace(self, connection_timeout=timeout, retries=retries)

    def _options(self) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.connection_timeout is not None:
            options.update(connection_timeout=self.connection_timeout, read_timeout=self.connection_timeout * 4)
        if self.retries is not None:
            options.update(retry_total=self.retries, retry_backoff_factor=0.5, retry_backoff_max=2)
        return options

    def credential(self) -> Any:
        from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

        if self.client_id:
            return ManagedIdentityCredential(client_id=self.client_id)
        return DefaultAzureCredential(exclude_interactive_browser_credential=True)

    def table_service(self) -> Any:
        from azure.data.tables import TableServiceClient

        if self.connection_string:
            try:
                return TableServiceClient.from_connection_string(self.connection_string, **self._options())
            except ValueError:  # the SDK's own parse; never quote the string (it holds the account key)
                raise StorageConfigError(CONNECTION_STRING_HELP) from None
        return TableServiceClient(endpoint=self.table_url or "", credential=self.credential(), **self._options())

    def queue_service(self) -> Any:
        from azure.storage.queue import QueueServiceClient

        if self.connection_string:
            try:
                return QueueServiceClient.from_connection_string(self.connection_string, **self._options())
            except ValueError:  # the SDK's own parse; never quote the string (it holds the account key)
                raise StorageConfigError(CONNECTION_STRING_HELP) from None
        return QueueServiceClient(account_url=self.queue_url or "", credential=self.credential(), **self._options())

    def blob_service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        if self.connection_string:
            try:
                return BlobServiceClient.from_connection_string(self.connection_string, **self._options())
            except ValueError:  # the SDK's own parse; never quote the string (it holds the account key)
                raise StorageConfigError(CONNECTION_STRING_HELP) from None
        return BlobServiceClient(account_url=self.blob_url or "", credential=self.credential(), **self._options())


CONNECTION_STRING_HELP = ("not a storage connection string; expected Key=Value pairs separated by ';' "
                          "(DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…, or UseDevelopmentStorage=true)")
_KEYS = frozenset({"usedevelopmentstorage", "developmentstorageproxyuri", "defaultendpointsprotocol", "accountname",
                   "accountkey", "sharedaccesssignature", "endpointsuffix", "blobendpoint", "queueendpoint",
                   "tableendpoint", "fileendpoint", "blobsecondaryendpoint", "queuesecondaryendpoint",
                   "tablesecondaryendpoint"})


def _check_connection_string(text: str, name: str) -> None:
    """Refuse what cannot be a connection string, in one line that never quotes it (it holds the key)."""
    pairs: dict[str, str] = {}
    for part in text.strip().split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or key.strip().lower() not in _KEYS:
            raise StorageConfigError(f"{name}: {CONNECTION_STRING_HELP}")
        pairs[key.strip().lower()] = value.strip()
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return
    named = "accountname" in pairs and ("accountkey" in pairs or "sharedaccesssignature" in pairs)
    endpoints = any(k in pairs for k in ("blobendpoint", "queueendpoint", "tableendpoint"))
    if not (named or endpoints):
        raise StorageConfigError(f"{name}: {CONNECTION_STRING_HELP}")
