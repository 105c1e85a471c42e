"""Fuzz every loader of promptops with seeded mutants and count tracebacks.

    python benchmarks/fuzz_loaders.py [--per-kind 1000] [--seed 1] [--kinds suite,meta]

Builds a seed project (recorded through the fake OpenAI server, then replayed),
mutates each input it loads (config, suites, prompts, partials, goldens,
recordings, rules, run records, JSON reports, the Markdown for ``github comment``,
the response cache) and runs the commands that load it. Prints inputs tried,
tracebacks, hangs, messages that do not name the file, and the distinct kinds of
traceback with one example each. The target is zero tracebacks. The CI test
(tests/test_fuzz_loaders.py) runs the same engine with fewer mutants.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

from fake_openai import FakeOpenAIServer  # noqa: E402
from fuzz_inputs import FAKE_KEY_ENV, build_seed_project, fuzz  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-kind", type=int, default=1000, help="mutants per kind of input")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    parser.add_argument("--time-limit", type=float, default=5.0, help="CPU seconds one input may take")
    parser.add_argument("--memory-mib", type=int, default=1024, help="address space one input may add")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every problem")
    args = parser.parse_args()

    os.environ[FAKE_KEY_ENV] = "sk-fuzz-not-a-real-key"
    with tempfile.TemporaryDirectory() as tmp, FakeOpenAIServer() as server:
        root = Path(tmp).resolve()
        os.chdir(root)
        kinds = build_seed_project(root, server.api_base)
        started, cpu_started = time.perf_counter(), time.process_time()
        report = fuzz(
            root,
            kinds,
            args.per_kind,
            args.seed,
            time_limit=args.time_limit,
            memory_bytes=args.memory_mib << 20,
            only=set(filter(None, args.kinds.split(","))) or None,
        )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        os.chdir("/")

    outcomes = report.outcomes
    codes = Counter(o.exit_code for o in outcomes)
    slowest = max(outcomes, key=lambda o: o.cpu_seconds)
    print(
        f"inputs tried            {len(outcomes)} ({len({o.kind for o in outcomes})} kinds, seed {args.seed})"
    )
    print(f"tracebacks              {len(report.tracebacks)}")
    print(f"distinct kinds          {len(report.distinct())}")
    print(f"hangs (> {args.time_limit:g} s CPU)      {sum(o.problem == 'hang' for o in outcomes)}")
    print(f"messages without file   {len(report.unnamed)}")
    print(f"exit codes              {dict(sorted(codes.items(), key=lambda kv: str(kv[0])))}")
    print(f"slowest input           {slowest.cpu_seconds:.2f} s CPU ({slowest.kind}, {slowest.mutation})")
    print(f"peak RSS                {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    per_input = cpu / max(len(outcomes), 1) * 1000
    print(f"time                    {elapsed:.1f} s wall, {cpu:.1f} s CPU ({per_input:.1f} ms CPU an input)")
    examples = {}
    for outcome in report.tracebacks:
        examples.setdefault(f"{outcome.kind}: {outcome.problem}", outcome)
    for name, count in report.distinct().most_common():
        example = examples[name]
        print(
            f"  {count:5d}  {name}  [{example.mutation}; {' '.join(example.command)}] {example.message[:160]}"
        )
    if args.verbose:
        for outcome in report.unnamed:
            print(f"  unnamed  {outcome.kind} [{outcome.mutation}] {outcome.message[:200]}")
        for outcome in outcomes:
            if outcome.exit_code == 3:
                print(f"  exit 3   {outcome.kind} [{outcome.mutation}] {outcome.message[:200]}")
    return 1 if report.tracebacks else 0


if __name__ == "__main__":
    sys.exit(main())
