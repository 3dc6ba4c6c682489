"""The meeting options of each occurrence as read at each moment of its life (``shared.occurrence_life``), so the
held-stage rules are judged with the options in force while the call ran, not with a later reading."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.occurrence_life import OptionsSnapshot


@dataclass(slots=True)
class OptionSnapshots:
    table: Any

    def add(self, occurrence_id: str, snapshot: OptionsSnapshot) -> None:
        """Keep ``snapshot`` unless the options are the same as the latest one taken before it."""
        earlier = [s for s in self.all(occurrence_id) if s.taken_at <= snapshot.taken_at]
        if earlier and earlier[-1].options == snapshot.options and earlier[-1].moment == snapshot.moment:
            return
        taken = datetime.fromtimestamp(snapshot.taken_at, tz=UTC)
        self.table.upsert_entity({"PartitionKey": occurrence_id,
                                  "RowKey": f"{taken.strftime('%Y%m%dT%H%M%S')}-{snapshot.moment}",
                                  "TakenAt": taken, "Moment": snapshot.moment,
                                  "Options": json.dumps(snapshot.options, sort_keys=True)[:30_000]})

    def all(self, occurrence_id: str) -> list[OptionsSnapshot]:
        rows = self.table.query_entities(query_filter="PartitionKey eq @p", parameters={"p": occurrence_id})
        out = [OptionsSnapshot(row["TakenAt"].timestamp(), str(row["Moment"]), json.loads(row["Options"]))
               for row in rows]
        return sorted(out, key=lambda s: s.taken_at)
