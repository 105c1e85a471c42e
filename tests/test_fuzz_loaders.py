"""Seeded fuzzing of every loader: no mutated input may crash, hang or blow up memory.

Each kind of input (config, suites, prompts, partials, goldens, case files,
recordings, rules, run records, JSON reports, the Markdown for ``github
comment``, the response cache) gets a fixed set of mutants (byte flips,
truncation, bytes that are not UTF-8, nesting 100,000 deep, 5,000-digit
integers, YAML alias bombs, 300-character names, format strings in rules ...),
each run through the commands that load it. A clean outcome is exit 0-3 with at
most one message line naming a file; anything else fails the test with the
mutant that caused it. ``benchmarks/fuzz_loaders.py`` runs many more.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer
from fuzz_inputs import FAKE_KEY_ENV, build_seed_project, fuzz

MUTANTS_PER_KIND = 150
SEED = 20260  # fixed: a failure reproduces with the same mutant
CPU_SECONDS_PER_INPUT = 5.0
MEMORY_PER_INPUT = 1 << 30


# about 30 s of CPU; the wall time on a busy shared machine can be many times that
@pytest.mark.timeout(1200)
def test_no_mutated_input_crashes_hangs_or_blows_up_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_server: FakeOpenAIServer
) -> None:
    monkeypatch.setenv(FAKE_KEY_ENV, "sk-fuzz-not-a-real-key")
    monkeypatch.delenv("PROMPTOPS_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)
    kinds = build_seed_project(tmp_path, fake_server.api_base)
    report = fuzz(
        tmp_path,
        kinds,
        MUTANTS_PER_KIND,
        SEED,
        time_limit=CPU_SECONDS_PER_INPUT,
        memory_bytes=MEMORY_PER_INPUT,
    )
    assert len(report.outcomes) == MUTANTS_PER_KIND * len(kinds)
    assert {o.kind for o in report.outcomes} == {k.name for k in kinds}
    problems = [
        f"{o.kind} [{o.mutation}] `promptops {' '.join(o.command)}`: {o.problem}: {o.message}"
        for o in report.outcomes
        if o.problem
    ]
    assert not problems, f"{len(problems)} of {len(report.outcomes)} inputs:\n" + "\n".join(problems[:20])
    # the mutants reach the error paths, not only inputs that still load
    codes = {o.exit_code for o in report.outcomes}
    assert 2 in codes and (0 in codes or 1 in codes)
