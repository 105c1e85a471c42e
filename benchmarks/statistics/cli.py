"""The same calibration and power figures through the real CLI, on the fake OpenAI server.

    python benchmarks/statistics/cli.py                # 10 suites per scenario (minutes on 2 busy cores)
    python benchmarks/statistics/cli.py --suites 50

Each simulated suite is a project of 20 cases sampled at temperature 1; the fake
server (tests/fake_openai.py) answers "pass" or "fail" with a scripted chance per
model and case. ``promptops drift --baseline base --candidate cand`` runs in this
process (litellm is imported once) with ``--repeat auto`` and with a fixed
``--repeat 10``, and its JSON report and exit code are read back. Fewer suites
than the Bernoulli simulation (simulate.py) can afford, so the shares carry a
few points of noise; they check that the CLI path behaves as the simulation says.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from fake_openai import FakeOpenAIServer, FakeState  # noqa: E402  (the test suite's fake provider)

KEY_ENV = "PROMPTOPS_BENCH_KEY"
CASES = 20

PROMPT = """\
---
version: 1.0.0
params: {temperature: 1.0, max_tokens: 4}
inputs:
  ticket: {required: true}
---
{{ ticket }}
"""


def write_project(folder: Path, api_base: str) -> None:
    (folder / "prompts").mkdir(parents=True)
    (folder / "suites").mkdir()
    (folder / "promptops.yaml").write_text(
        "version: 1\n"
        "models:\n"
        f'  base: {{model: openai/base-model, api_base: "{api_base}", api_key_env: {KEY_ENV}}}\n'
        f'  cand: {{model: openai/cand-model, api_base: "{api_base}", api_key_env: {KEY_ENV}}}\n'
        "defaults: {model: base, params: {temperature: 1.0, max_tokens: 4}}\n"
        "run: {concurrency: 16, timeout_s: 5, retries: 2}\n",
        encoding="utf-8",
    )
    (folder / "prompts" / "sampled.j2").write_text(PROMPT, encoding="utf-8")
    check = "    assert: [{type: equals, value: pass}]\n"
    cases = "".join(f'  - id: c{i:02d}\n    vars: {{ticket: "case c{i:02d}"}}\n{check}' for i in range(CASES))
    (folder / "suites" / "sampled.yaml").write_text(
        f"prompt: sampled\nthreshold: 0.6\ncases:\n{cases}", encoding="utf-8"
    )


def run_drift(
    server: FakeOpenAIServer, rates: dict[str, tuple[float, float]], seed: int, repeat: str
) -> dict:
    """One suite through ``promptops drift``: the JSON report."""
    from promptops.cli import cli

    state = FakeState(seed=seed)
    state.pass_rates = {
        (model, f"case {case}"): rate
        for case, (base, cand) in rates.items()
        for model, rate in (("base-model", base), ("cand-model", cand))
    }
    server.use(state)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_project(folder, server.api_base)
        out = folder / "drift.json"
        previous = Path.cwd()
        os.chdir(folder)
        try:
            errors = io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(errors):
                try:
                    cli.main(
                        [
                            "drift",
                            "--baseline",
                            "base",
                            "--candidate",
                            "cand",
                            "--repeat",
                            repeat,
                            "--no-cache",
                            "--format",
                            "json",
                            "-o",
                            str(out),
                        ],
                        standalone_mode=False,
                    )
                except SystemExit:
                    pass
            if not out.exists():
                raise SystemExit(f"promptops drift wrote no report: {errors.getvalue().strip()[-600:]}")
            return json.loads(out.read_text())
        finally:
            os.chdir(previous)


def scenario(
    server: FakeOpenAIServer, rates: dict[str, tuple[float, float]], suites: int, repeat: str, seed: int
):
    flagged = first = 0
    samples = 0.0
    started = time.perf_counter()
    for i in range(suites):
        report = run_drift(server, rates, seed + i, repeat)
        flagged += report["status"] == "regressed"
        first += any(c["case"] == "c00" and c["status"] == "regression" for c in report["cases"])
        spent = [c["baseline"]["samples"] for c in report["cases"]]
        samples += sum(spent) / len(spent)
    return flagged / suites, first / suites, samples / suites, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", type=int, default=10, help="suites per scenario")
    args = parser.parse_args()
    os.environ[KEY_ENV] = "sk-bench-not-a-real-key"
    null = {f"c{i:02d}": (0.7, 0.7) for i in range(CASES)}
    drop = dict(null, c00=(0.9, 0.5))
    print(f"{args.suites} suites of {CASES} cases per scenario through `promptops drift` on the fake server")
    with FakeOpenAIServer() as server:
        for repeat in ("10", "auto"):
            share, _, spent, seconds = scenario(server, null, args.suites, repeat, 1000)
            print(
                f"  --repeat {repeat:4s} no change (0.7):   {share:6.1%} of suites flag a regression"
                f"   mean samples per case per side {spent:5.2f}   ({seconds:.0f} s)"
            )
            _, found, spent, seconds = scenario(server, drop, args.suites, repeat, 5000)
            print(
                f"  --repeat {repeat:4s} one case 0.9 -> 0.5: {found:6.1%} of suites flag it"
                f"            mean samples per case per side {spent:5.2f}   ({seconds:.0f} s)"
            )


if __name__ == "__main__":
    main()
