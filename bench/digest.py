"""Digest benchmark: render time and email size for a week of 100, 1,000 and 10,000 findings.

``python bench/digest.py``. The week is made up (``devtools.digest_preview.synthetic_week``: about four findings
per meeting, every rule, long subjects and summaries); the figures are the pure part (building the digest from
table rows, rendering HTML and text, fitting findings.csv within Graph's limits), without storage or Graph.
Best of three runs.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devtools.digest_preview import synthetic_week
from shared.digest.model import DigestInputs, build_digest
from shared.digest.render import REQUEST_LIMIT, render_digest

WEEK = "2026-W47"
ZONE = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 23, 7, 5, tzinfo=UTC)


def measure(count: int) -> dict[str, float]:
    rows, meetings = synthetic_week(count)
    best: dict[str, float] = {}
    for _ in range(3):
        t0 = time.perf_counter()
        digest = build_digest(DigestInputs(WEEK, ZONE, NOW, {WEEK: rows}, {WEEK: meetings}))
        t1 = time.perf_counter()
        full = render_digest(digest, full=True)
        t2 = time.perf_counter()
        summary = render_digest(digest, full=False)
        t3 = time.perf_counter()
        figures = {"build": t1 - t0, "render_dsl": t2 - t1, "render_summary": t3 - t2,
                   "html": len(full.html.encode()), "text": len(full.text.encode()),
                   "csv": len(full.csv or b""), "csv_rows": full.csv_rows, "request": full.request_bytes(),
                   "summary_request": summary.request_bytes()}
        if not best or figures["build"] + figures["render_dsl"] < best["build"] + best["render_dsl"]:
            best = figures
    return best


def main() -> int:
    print(f"{'findings':>9} {'build':>8} {'render DSL':>11} {'render other':>13} {'HTML':>9} {'CSV':>10} "
          f"{'CSV rows':>9} {'request':>10} {'other copy':>11}")
    for count in (100, 1_000, 10_000):
        f = measure(count)
        print(f"{count:>9,} {f['build'] * 1000:>6.0f}ms {f['render_dsl'] * 1000:>9.0f}ms "
              f"{f['render_summary'] * 1000:>11.0f}ms {f['html'] / 1024:>7.0f}KB {f['csv'] / 1024:>8.0f}KB "
              f"{int(f['csv_rows']):>9,} {f['request'] / 1024:>8.0f}KB {f['summary_request'] / 1024:>9.0f}KB")
    print(f"request limit used: {REQUEST_LIMIT / 1024:.0f} KB (Graph: about 4 MB); inline attachment under 3 MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
