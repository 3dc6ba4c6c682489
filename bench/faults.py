"""The larger fault sweep: a few lessons of the simulated school week (a channel lesson with a pupil sharing
their screen, a one-to-one, a lesson whose organiser has no access policy), notified through their events and
call records, failed once at every storage and Graph call of their evaluation path and killed there too.

    .venv/bin/python -m bench.faults [--stride N]

Prints the fault points tried, the runs equal to the clean run, and the findings lost (must be 0).
"""

from __future__ import annotations

import argparse
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stride", type=int, default=1, help="try every Nth call (1: every call)")
    args = parser.parse_args()
    import function_app
    from devtools.azurite import Azurite
    from devtools.faultsweep import Sweep
    from devtools.graphsim import generate

    school = generate.primary_school(seed=1)
    wanted = ("pupil-screen-shared", "one-to-one-with-pupil", "evidence-unavailable")
    lessons = [next(o for o in school.occurrences if rule in o["planted"]) for rule in wanted]
    functions = function_app.app.get_functions()
    start = time.perf_counter()
    with Azurite() as azurite, Sweep(azurite.connection_string, functions, school, lessons) as sweep:
        clean, report = sweep.sweep(stride=args.stride)
    print(f"fault sweep over {len(lessons)} lessons ({len(clean.findings)} findings, {len(clean.alerts)} alerts in "
          f"the clean run), {time.perf_counter() - start:.0f} s")
    print(f"   fault points tried: {report.points} ({dict(report.by_kind)})")
    print(f"   runs equal to the clean run: {report.equal} of {report.points}")
    print(f"   findings lost: {report.lost}")
    for line in report.differing[:20]:
        print(f"   differs: {line}")


if __name__ == "__main__":
    main()
