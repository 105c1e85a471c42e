"""promptops benchmarks: one command, figures with the ideal beside each.

    python benchmarks/run.py            # everything (about three minutes on 2 cores)
    python benchmarks/run.py --quick    # skip the slow -j 4 comparison and the 100,000-case run

A fake OpenAI-compatible server (tests/fake_openai.py) runs in its own process
on 127.0.0.1 with a configurable latency; promptops talks to it through
litellm's ``openai/`` provider exactly as to a real endpoint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
FAKE_SERVER = ROOT / "tests" / "fake_openai.py"
KEY_ENV = "PROMPTOPS_BENCH_KEY"
MODEL_ID = "openai/gpt-4o-mini"
SUITE_SIZE = 1000

PROMPT = """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{% role "system" %}Classify the ticket as refund, bug or question.{% endrole %}
{% role "user" %}{{ ticket }}{% endrole %}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """The fake provider in a subprocess, so its CPU does not count against promptops."""

    def __init__(self, latency_ms: float, fault_rate: float = 0.0) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(FAKE_SERVER),
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
                "--fault-rate",
                str(fault_rate),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "fake OpenAI API on ..." once it listens

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(f"{self.api_base}/stats", timeout=5) as response:
            return dict(json.load(response))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def make_project(folder: Path, api_base: str, cases: int, concurrency: int, model_id: str = MODEL_ID) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "prompts").mkdir(parents=True)
    (folder / "suites").mkdir()
    (folder / "promptops.yaml").write_text(
        "version: 1\n"
        # a priced model id served by the local endpoint, as through a proxy: litellm's cost lookup for an
        # unknown id costs ~0.9 ms of CPU per call more (see the "unknown model" row)
        f'models:\n  fake: {{model: {model_id}, api_base: "{api_base}", api_key_env: {KEY_ENV}}}\n'
        "defaults: {model: fake, params: {temperature: 0, max_tokens: 16}}\n"
        f"run: {{concurrency: {concurrency}, timeout_s: 30, retries: 4, backoff_s: 0.05}}\n"
    )
    (folder / "prompts" / "triage.j2").write_text(PROMPT)
    # suites of at most 1,000 cases, as a team splits a large test set
    for start in range(0, cases, SUITE_SIZE):
        lines = ["prompt: triage", "cases:"]
        for i in range(start, min(cases, start + SUITE_SIZE)):
            lines += [
                f"  - id: case-{i:06d}",
                f"    vars: {{ticket: 'ticket number {i}'}}",
                "    assert: [{type: contains, value: ticket}]",
            ]
        (folder / "suites" / f"bench-{start // SUITE_SIZE:03d}.yaml").write_text("\n".join(lines) + "\n")
    return folder


def run_cli(project: Path, *args: str) -> tuple[float, dict]:
    """Run ``promptops`` as a user would; returns (wall seconds, JSON report)."""
    env = {**os.environ, KEY_ENV: "sk-bench", "CI": "1"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "promptops", *args, "--format", "json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"promptops failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall, json.loads(proc.stdout)


def in_process_run(project: Path, concurrency: int, *, use_cache: bool, caller=None) -> tuple[float, object]:
    """Time run_plan itself in a process where litellm is already imported (a long-lived worker)."""
    from promptops.config import load_project
    from promptops.plan import RunOptions, build_plan
    from promptops.runner import run_plan
    from promptops.suites import load_suites

    cwd = os.getcwd()
    os.chdir(project)
    try:
        loaded = load_project()
        plan = build_plan(
            loaded, load_suites(loaded), RunOptions(concurrency=concurrency, use_cache=use_cache)
        )
        started = time.perf_counter()
        outcome = run_plan(plan, caller=caller)
        return time.perf_counter() - started, outcome
    finally:
        os.chdir(cwd)


async def instant(model, messages, params, timeout):  # type: ignore[no-untyped-def]
    """A provider that answers at once (the last message, echoed): what is left is promptops' own time.

    It yields to the event loop once, as any provider waiting on a socket does; without that, one
    worker would run every call in a single step and the loop would never drop the finished calls'
    cancelled timers.
    """
    from promptops.providers import Completion

    await asyncio.sleep(0)
    return Completion(messages[-1]["content"], 5, 3, 0.0, 0.01)


PROMPTFOO_DIR = Path(tempfile.gettempdir()) / "promptops-bench-promptfoo"
"""Scratch folder promptfoo is npm-installed into once (about two minutes), then reused."""


def promptfoo_command() -> tuple[list[str] | None, str]:
    """promptfoo's command line, installing it from npm into a scratch folder; (None, why) without Node."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "Node.js and npm are not installed"
    binary = PROMPTFOO_DIR / "node_modules" / ".bin" / "promptfoo"
    if not binary.exists():
        PROMPTFOO_DIR.mkdir(parents=True, exist_ok=True)
        print(f"  (installing promptfoo from npm into {PROMPTFOO_DIR} ...)", flush=True)
        proc = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "promptfoo"],
            cwd=PROMPTFOO_DIR,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not binary.exists():
            return None, f"npm install promptfoo failed: {proc.stderr.strip().splitlines()[-1:]}"
    return [str(binary)], ""


def run_promptfoo(
    command: list[str], folder: Path, api_base: str, cases: int, concurrency: int, cache: bool
) -> float:
    """The same suite as promptops' (prompt, cases, assertion, model, endpoint) as a promptfoo eval."""
    folder.mkdir(parents=True, exist_ok=True)
    messages = [
        {"role": "system", "content": "Classify the ticket as refund, bug or question."},
        {"role": "user", "content": "{{ticket}}"},
    ]
    config = {
        "prompts": [json.dumps(messages)],
        "providers": [
            {
                "id": "openai:chat:gpt-4o-mini",
                "config": {"apiBaseUrl": api_base, "apiKey": "sk-bench", "temperature": 0, "max_tokens": 16},
            }
        ],
        "defaultTest": {"assert": [{"type": "contains", "value": "ticket"}]},
        "tests": [{"vars": {"ticket": f"ticket number {i}"}} for i in range(cases)],
    }
    (folder / "promptfooconfig.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(folder / "home"),
        "CI": "1",
    }
    args = [*command, "eval", "-c", "promptfooconfig.json", "-j", str(concurrency), "--no-progress-bar"]
    args += ["--no-table", "-o", "out.json"] + ([] if cache else ["--no-cache"])
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 100):  # 100: some assertion failed
        raise SystemExit(f"promptfoo failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return wall


def litellm_import_s() -> float:
    """Seconds promptops takes to import and warm up litellm in a fresh process (as a run does)."""
    code = (
        "import time\nstarted = time.perf_counter()\nfrom promptops.providers import get_litellm\n"
        "get_litellm()\nprint(time.perf_counter() - started)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(proc.stdout.split()[-1])


def row(name: str, value: str, ideal: str, ratio: str = "") -> None:
    print(f"  {name:<52} {value:>12}   ideal {ideal:<10} {ratio}")


def bench_startup() -> float:
    times = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "promptops", "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """This process's peak RSS since it started (``VmHWM``).

    Not ``getrusage``'s ``ru_maxrss``: on Linux that keeps the peak of the process image before
    ``exec``, so a child started from a large parent (this one, with litellm imported) reports
    the parent's size.
    """
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: the best there is


def rss_probe(cases: int) -> None:
    """Child mode: ``promptops test --format json,junit,html -o report`` on ``cases`` cases, in this
    process, with an instant in-process provider; print RSS figures.

    The command runs as a user runs it (load, plan, run, summary.json, the JSON, JUnit and HTML
    reports written, the text report printed); only the provider call is replaced, so litellm is
    not imported and the figures are promptops' own memory. RSS is sampled when execution starts
    and every 1 % of the results, so growth while results stream is told apart from the suites held
    in memory.
    """
    import contextlib
    import io

    import promptops.executor
    import promptops.providers
    from promptops.cli import cli
    from promptops.runner import ProgressSink

    samples: list[float] = []

    class Sampler(ProgressSink):
        def __init__(self) -> None:
            self.done = 0
            self.every = 1

        def start(self, total: int) -> None:
            self.every = max(1, total // 100)
            samples.append(current_rss_mib())

        def advance(self, result: object) -> None:
            self.done += 1
            if self.done % self.every == 0:
                samples.append(current_rss_mib())

    import promptops.cli.progress

    promptops.executor.acomplete = instant  # type: ignore[assignment]
    promptops.providers.import_in_background = lambda: None  # no provider call: litellm is not needed
    promptops.cli.progress.make_progress = lambda *args, **kwargs: Sampler()  # type: ignore[assignment]

    folder = Path(tempfile.mkdtemp(prefix="promptops-rss-"))
    make_project(folder, "http://127.0.0.1:9/v1", cases, 64)
    os.environ[KEY_ENV] = "sk-bench"
    os.environ["CI"] = "1"
    os.chdir(folder)
    started = time.perf_counter()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            args = ["test", "--no-cache", "--format", "json,junit,html", "-o", "report"]
            cli.main(args, standalone_mode=False)
            code = 0
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    wall = time.perf_counter() - started
    peak = peak_rss_mib()  # before the check below reads the report back
    report = json.loads((folder / "report.json").read_text())
    assert len(report["cases"]) == cases, (code, len(report["cases"]))
    reports_mib = sum((folder / f"report{suffix}").stat().st_size for suffix in (".json", ".xml", ".html"))
    print(
        json.dumps(
            {
                "cases": cases,
                "wall_s": wall,
                "exit_code": code,
                "report_mib": reports_mib / 2**20,
                "rss_at_start_mib": samples[0],
                "rss_at_10pct_mib": samples[min(10, len(samples) - 1)],
                "rss_at_end_mib": samples[-1],
                "peak_rss_mib": peak,
            }
        )
    )
    shutil.rmtree(folder, ignore_errors=True)


BASE_RSS_MIB = 55
"""RSS of the probe before any suite loads (Python, promptops and its imports), for the per-case figure."""


def litellm_rss_mib() -> float:
    """Peak RSS of a fresh Python that only imports litellm (offline cost map)."""
    code = (
        "import litellm\n"
        "for line in open('/proc/self/status'):\n"
        "    line.startswith('VmHWM:') and print(line.split()[1])"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return int(proc.stdout.split()[-1]) / 1024


def child_rss(cases: int) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--rss-probe", str(cases)], capture_output=True, text=True, check=True
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="skip the -j 4 comparison and the 100k run")
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("-j", type=int, default=32)
    parser.add_argument("--no-promptfoo", action="store_true", help="skip the promptfoo side-by-side rows")
    parser.add_argument("--runs", type=int, default=3, help="runs behind each 1,000-case wall time (median)")
    parser.add_argument("--rss-probe", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_probe:
        rss_probe(args.rss_probe)
        return

    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ[KEY_ENV] = "sk-bench"
    work = Path(tempfile.mkdtemp(prefix="promptops-bench-"))
    ideal = args.cases / args.j * args.latency_ms / 1000
    print(f"promptops benchmarks ({os.cpu_count()} cores, Python {sys.version.split()[0]})")

    startup = bench_startup()
    print("\nstart-up")
    row("promptops --help (median of 7)", f"{startup:.3f} s", "< 0.3 s", f"{startup / 0.3:.2f}x of budget")

    server = Server(args.latency_ms)
    try:
        project = make_project(work / "p", server.api_base, args.cases, args.j)
        print(f"\n{args.cases} cases, {args.latency_ms:.0f} ms provider latency, -j {args.j}")
        from promptops.providers import get_litellm

        get_litellm()
        runs = max(1, args.runs)
        print(f"  (wall times: median of {runs} runs; the fresh-process ones alternate)")
        wall = statistics.median(in_process_run(project, args.j, use_cache=False)[0] for _ in range(runs))
        calls = server.stats()["completions"] // runs
        row(
            "runner wall time (litellm already imported)",
            f"{wall:.2f} s",
            f"{ideal:.2f} s",
            f"{wall / ideal:.3f}x  ({calls} provider calls a run)",
        )
        cli_walls, cached_walls, imports = [], [], []
        for _ in range(runs):
            cli_walls.append(run_cli(project, "test", "-j", str(args.j), "--no-cache")[0])
            before = server.stats()["requests"]
            cached_walls.append(run_cli(project, "test", "-j", str(args.j))[0])
            cached_calls = server.stats()["requests"] - before
            imports.append(litellm_import_s())
        cli_wall, cached_wall = statistics.median(cli_walls), statistics.median(cached_walls)
        litellm_import = statistics.median(imports)
        row(
            "promptops test process wall (import + run)",
            f"{cli_wall:.2f} s",
            f"{ideal:.2f} s",
            f"{cli_wall / ideal:.3f}x (target 1.25x)",
        )
        # no call can leave before litellm is imported (calls go through it), so its import and warm-up
        # add to the ideal in any process that starts cold
        floor = ideal + litellm_import
        row(
            "  least possible: ideal + litellm import and warm-up",
            f"{floor:.2f} s",
            f"{ideal:.2f} s",
            f"{floor / ideal:.3f}x (import {litellm_import:.2f} s); process at {cli_wall / floor:.3f}x of it",
        )
        row(
            "fully cached re-run, process wall",
            f"{cached_wall:.2f} s",
            "< 0.3 s",
            f"{cached_wall / 0.3:.2f}x of budget, {cached_calls} provider calls",
        )

        if args.no_promptfoo:
            print("  promptfoo: skipped (--no-promptfoo)")
        else:
            command, why = promptfoo_command()
            if command is None:
                print(f"  promptfoo: skipped ({why})")
            else:
                pf_wall = run_promptfoo(
                    command, work / "pf", server.api_base, args.cases, args.j, cache=False
                )
                row(
                    "promptfoo eval, same suite and endpoint",
                    f"{pf_wall:.2f} s",
                    f"{ideal:.2f} s",
                    f"{pf_wall / ideal:.3f}x, promptops/promptfoo {cli_wall / pf_wall:.2f}",
                )
                run_promptfoo(command, work / "pf", server.api_base, args.cases, args.j, cache=True)  # fill
                pf_cached = run_promptfoo(
                    command, work / "pf", server.api_base, args.cases, args.j, cache=True
                )
                row(
                    "promptfoo cached re-run",
                    f"{pf_cached:.2f} s",
                    "—",
                    f"promptops/promptfoo {cached_wall / pf_cached:.2f}",
                )

        overhead_wall, _ = in_process_run(project, args.j, use_cache=False, caller=instant)
        per_case = overhead_wall / args.cases * 1000
        row(
            "promptops overhead per case (instant provider)",
            f"{per_case:.3f} ms",
            "< 1 ms",
            f"{per_case:.2f}x of budget",
        )
        zero = Server(0)
        try:
            project0 = make_project(work / "p0", zero.api_base, args.cases, args.j)
            zero_wall, _ = in_process_run(project0, args.j, use_cache=False)
            row(
                "per call through litellm at 0 ms latency",
                f"{zero_wall / args.cases * 1000:.2f} ms",
                "<= 3 ms",
                f"{zero_wall / args.cases * 1000 / 3:.2f}x of budget (CPU per call: litellm + HTTP client)",
            )
            unknown = make_project(
                work / "pu", zero.api_base, args.cases, args.j, model_id="openai/unpriced-model"
            )
            unknown_wall, _ = in_process_run(unknown, args.j, use_cache=False)
            row(
                "  the same, model id litellm has no price for",
                f"{unknown_wall / args.cases * 1000:.2f} ms",
                "—",
            )
        finally:
            zero.stop()

        if not args.quick:
            project4 = make_project(work / "p4", server.api_base, args.cases, 4)
            ideal4 = args.cases / 4 * args.latency_ms / 1000
            wall4, _ = in_process_run(project4, 4, use_cache=False)
            row(
                "same suite at -j 4 (a common default)",
                f"{wall4:.2f} s",
                f"{ideal4:.2f} s",
                f"{wall4 / wall:.1f}x slower than -j {args.j}",
            )
    finally:
        server.stop()

    print(
        "\nmemory: promptops test --format json,junit,html -o report, in-process instant provider"
        " (suites of 1,000 cases; litellm not imported)"
    )
    sizes = [10_000] if args.quick else [10_000, 100_000]
    for probe in (child_rss(n) for n in sizes):
        growth = probe["rss_at_end_mib"] - probe["rss_at_10pct_mib"]
        row(
            f"{probe['cases']:,} cases: RSS growth from 10 % to 100 % of results",
            f"{growth:+.0f} MiB",
            "flat",
            f"({probe['rss_at_10pct_mib']:.0f} -> {probe['rss_at_end_mib']:.0f} MiB)",
        )
        row(
            "  RSS once the suites are loaded (before any call)",
            f"{probe['rss_at_start_mib']:.0f} MiB",
            "—",
            f"{(probe['rss_at_start_mib'] - BASE_RSS_MIB) * 1024 / probe['cases']:.2f} KiB per case over "
            f"{BASE_RSS_MIB} MiB",
        )
        budget = " (budget < 250 MiB)" if probe["cases"] >= 100_000 else ""
        row(
            "  peak RSS (summary and the four reports included)",
            f"{probe['peak_rss_mib']:.0f} MiB",
            "< 250 MiB" if budget else "—",
            f"{probe['peak_rss_mib'] / 250:.2f}x of budget" if budget else "",
        )
        row(
            "  wall time of the command",
            f"{probe['wall_s']:.1f} s",
            "—",
            f"{probe['wall_s'] / probe['cases'] * 1000:.3f} ms/case, reports {probe['report_mib']:.0f} MiB",
        )
    row("litellm's import alone (a run that calls a provider adds it)", f"{litellm_rss_mib():.0f} MiB", "—")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
