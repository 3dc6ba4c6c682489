"""Whole evidence bundles in Blob storage (too large for a table entity), one per in-scope occurrence."""

from __future__ import annotations

import json
from typing import Any

CONTAINER = "evidence"


def blob_name(week: str, occurrence_id: str) -> str:
    return f"{week}/{occurrence_id}.json"


class EvidenceStore:
    def __init__(self, container: Any) -> None:
        self.container = container

    def save(self, week: str, occurrence_id: str, bundle: dict[str, Any]) -> str:
        from azure.storage.blob import ContentSettings

        name = blob_name(week, occurrence_id)
        data = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.container.upload_blob(name, data, overwrite=True,
                                   content_settings=ContentSettings(content_type="application/json"))
        return name

    def load(self, name: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            data = self.container.download_blob(name).readall()
        except ResourceNotFoundError:
            return None
        value = json.loads(data)
        return value if isinstance(value, dict) else None

    def delete(self, name: str) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self.container.delete_blob(name)
        except ResourceNotFoundError:
            return
