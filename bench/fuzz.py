"""Fuzz every parser of the registry on structure-aware mutations of the corpus (issue 10 point 10).

    .venv/bin/python bench/fuzz.py --inputs 100000 [--seed 1] [--timeout 10]

Prints the inputs tried, the exceptions (anything but a ParseError, a snapshot the store cannot write, a hang
past --timeout), the slowest input and the peak memory (ru_maxrss). Exit status 1 when any exception was seen.
The mutations are those of tests/fuzzing.py (the quick slice of the test suite runs them under hypothesis).
"""

from __future__ import annotations

import argparse
import faulthandler
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fuzzing import check, mutate, seeds


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--inputs", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = seeds()
    print(f"{len(pool)} seed documents", flush=True)
    errors: Counter[str] = Counter()
    examples: dict[str, str] = {}
    slowest = (0.0, "")
    grew, peak_before = (0, ""), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    for n in range(1, args.inputs + 1):
        seed = rng.choice(pool)
        doc = mutate(seed, rng)
        # an input stuck in C code (no Python bytecode runs, so the alarm cannot stop it) is a hang too:
        # its stack is printed and the run ends
        faulthandler.dump_traceback_later(args.timeout * 3, exit=True)
        try:
            outcome = check(doc, timeout=args.timeout)
        finally:
            faulthandler.cancel_dump_traceback_later()
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if rss - peak_before > grew[0]:
            grew = (rss - peak_before, f"input {n}, {seed.name} ({len(doc.content)} bytes)")
        peak_before = rss
        if outcome.seconds > slowest[0]:
            slowest = (outcome.seconds, f"{seed.name} ({len(doc.content)} bytes)")
        if outcome.error is not None:
            key = outcome.error.split(":", 1)[0]
            errors[key] += 1
            examples.setdefault(key, f"{seed.name}: {outcome.error}")
        if n % 10_000 == 0:
            print(f"  {n} inputs, {sum(errors.values())} exceptions, {time.monotonic() - started:.0f} s", flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"inputs tried: {args.inputs}")
    print(f"exceptions: {sum(errors.values())}")
    for key, count in errors.most_common():
        print(f"  {count} x {examples[key]}")
    print(f"slowest input: {slowest[0]:.2f} s, {slowest[1]}")
    print(f"peak memory: {peak:.0f} MB (the largest rise, {grew[0] / 1024:.0f} MB: {grew[1] or '-'})")
    print(f"elapsed: {time.monotonic() - started:.0f} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
