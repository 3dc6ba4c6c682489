"""The DSL's desk on this computer: ``make serve`` (``python -m devtools.serve``).

Opens the data ``make demo`` left in ``.local/demo/`` (Azurite's files and the demo's settings), starts Azurite on
it, the Graph simulator for the same simulated school (so the consent import can match pupils), and the app's
HTTP functions on loopback through the local runner; prints the desk's address and waits for Ctrl+C.

Locally the desk signs in by choosing a role (``VCAUDIT_LOCAL_SIGNIN=true``) under a "local" banner; in Azure that
setting is refused and people sign in with Entra ID. The admin CLI works on the same data: the printed
connection string and table prefix are its ``--connection-string`` and ``--table-prefix``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".local" / "demo"


@dataclass
class Served:
    url: str
    connection_string: str
    prefix: str
    stop: Any


def start(data: Path = DATA, *, port: int = 7071, extra_settings: dict[str, str] | None = None) -> Served:
    """Start everything on ``data``; ``stop()`` ends it. Raises FileNotFoundError when the demo never ran."""
    import function_app
    from devtools.azurite import Azurite
    from devtools.graphsim import GraphSimulator, generate
    from devtools.runner import LocalRunner
    from shared import runtime as runtime_module
    from shared.runtime import Runtime
    from shared.settings import load_settings
    from shared.store.connection import StorageConfig

    started = time.time()
    meta_path = data / "demo.json"
    if not meta_path.exists():
        raise FileNotFoundError(f"{meta_path.relative_to(ROOT) if meta_path.is_relative_to(ROOT) else meta_path} "
                                "not found: run `make demo` first (it records a simulated week there)")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    tenant = generate.primary_school(seed=int(meta["seed"]), week_start=date.fromisoformat(meta["week_start"]))
    azurite = Azurite(data / "azurite").start()
    sim = GraphSimulator(tenant)
    sim.start()
    base = f"http://127.0.0.1:{port}/api/desk"
    settings = load_settings({**meta["settings"], "VCAUDIT_GRAPH_BASE_URL": sim.base_url,
                              "VCAUDIT_LOCAL_SIGNIN": "true", "VCAUDIT_WEB_BASE_URL": base,
                              **(extra_settings or {})})
    app = Runtime(settings, StorageConfig.from_connection_string(azurite.connection_string), prefix=meta["prefix"])
    after = date.fromisoformat(meta["week_start"]) + timedelta(days=7)  # the Monday after the demo's week
    monday = datetime(after.year, after.month, after.day, 8, tzinfo=UTC).timestamp()
    app.pipeline_options = {"clock": lambda: monday + (time.time() - started)}
    runtime_module.use(app)
    runner = LocalRunner(function_app.app.get_functions(), app.queues)
    runner.start_http(port)

    def stop() -> None:
        runner.stop()
        runtime_module.use(None)
        sim.stop()
        azurite.stop()

    return Served(base, azurite.connection_string, meta["prefix"], stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="the DSL's desk on the demo's data, on loopback")
    parser.add_argument("--port", type=int, default=7071, help="the local port (default 7071)")
    args = parser.parse_args(argv)
    try:
        served = start(port=args.port)
    except FileNotFoundError as exc:
        print(f"vcaudit serve: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"vcaudit serve: cannot listen on 127.0.0.1:{args.port} ({exc.strerror}); try --port", file=sys.stderr)
        return 2
    print(f"The DSL's desk: {served.url}/  (local: choose a role to sign in)")
    print(f"Admin CLI on the same data: vcaudit findings --week 2026-W11 --table-prefix {served.prefix} "
          f"--connection-string '{served.connection_string}'")
    print("Ctrl+C to stop.")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
