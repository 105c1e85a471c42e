"""Diagnosis benchmark: does promptops name the right gap and remedy without hints?

    python benchmarks/diagnosis/run.py          # about 30 s on 2 cores
    python benchmarks/diagnosis/run.py -v       # also every case that was misjudged

Builds the Larkspur Outfitters project of ``app.py`` in a temporary git repository, scripts a
baseline and a candidate model on the fake OpenAI-compatible server (tests/fake_openai.py), and
runs promptops as a user would, through its CLI:

1. ``promptops test -m cand``: the candidate's failing cases, diagnosed from their answers;
2. ``promptops drift --baseline base --candidate cand``: the same cases with what introduced each;
3. a pull request: prompts edited in the working tree, ``promptops test --base-ref HEAD`` on the
   model that passed them before;
4. ``promptops escalate REPORT.json`` on each report, which must repeat each diagnosis;
5. ``promptops diagnose RUN`` on the test run: counterfactual probes, answered by the candidate as a
   model with the case's true gap answers them (it knows a missing fact only when the messages hold
   it, fixes a form only when shown an example, learns a skill from worked examples, is consistent
   at temperature 0), so each planted gap also has the probe outcome it implies.

It prints the confusion matrix (true gap × diagnosed gap), accuracy per gap and overall, the
accuracy of the remedy chosen per case, the attribution of drift cases, the agreement between
commands, and every piece of forbidden advice: retrieval for a case whose expected content is in
the prompt, fine-tuning for a missing fact, retrieval or fine-tuning for a regression the prompt
change caused. With probes it prints the same figures, whether each probed case's outcomes are those
its true gap implies, and the calls the probes cost. Exit 1 when a target is missed (90 % gap and
remedy without probes, 95 % with them, no forbidden advice).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(HERE)]
os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"

import yaml  # noqa: E402
from app import ALREADY_FAILING, CASES, PR_CASES, PROMPTS, PROMPTS_V2, SUITES  # noqa: E402
from fake_openai import FakeOpenAIServer, FakeState  # noqa: E402
from holdout import HOLDOUT  # noqa: E402

GAPS = ("knowledge", "behavior", "skill", "reliability")
TECHNIQUE = {
    "knowledge": "rag",
    "behavior": "prompt-engineering",
    "skill": "prompt-engineering",
    "reliability": "reliability-hardening",
}
KEY_ENV = "PROMPTOPS_BENCH_KEY"
INPUTS = ("email", "message", "question", "review")


def _input(case: dict[str, Any]) -> str:
    return next(str(case["vars"][name]) for name in INPUTS if name in case["vars"])


BY_INPUT = {_input(c): c for c in CASES}
PR_BY_INPUT = {_input(c): c for c in PR_CASES}


def _expected_texts(case: dict[str, Any]) -> list[str]:
    """The content the case's assertions look for (the facts a knowledge gap lacks)."""
    texts: list[str] = []
    for check in case["assert"]:
        value = check.get("value")
        if check["type"].startswith("not-") or value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            texts += [str(v) for v in item.values()] if isinstance(item, dict) else [str(item)]
    return texts


def under_intervention(
    case: dict[str, Any], messages: list[dict[str, Any]], body: dict[str, Any]
) -> str | None:
    """How the candidate answers a probe, as a model with the case's true gap would; None: as in the run.

    knowledge: right only when the messages besides the question hold the missing fact; behavior: right
    only when shown an example (an example output or a worked example); skill: right only with worked
    examples (assistant turns); reliability: right at temperature 0.
    """
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    others = " ".join(str(m.get("content", "")) for m in messages if str(m.get("content", "")) != user)
    shown = any(m.get("role") == "assistant" for m in messages)
    truth = case["truth"]
    if truth == "knowledge" and any(text.lower() in others.lower() for text in _expected_texts(case)):
        return str(case["good"])
    if truth == "behavior" and (shown or "example" in others.lower()):
        return str(case["good"])
    if truth == "skill" and shown:
        return str(case["good"])
    if truth == "reliability" and float(body.get("temperature") or 0) == 0:
        return str(case["good"])
    return None


def answer(messages: list[dict[str, Any]], body: dict[str, Any]) -> str:
    """The scripted models: ``cand-model`` gives each case's candidate answer, ``base-model`` the good one."""
    user = next((str(m.get("content", "")) for m in reversed(messages) if m.get("role") == "user"), "")
    prompt = "\n".join(str(m.get("content", "")) for m in messages)
    pr = PR_BY_INPUT.get(user)
    if pr is not None:
        return str(pr["then"] if pr["when"] in prompt else pr["otherwise"])
    case = BY_INPUT.get(user)
    if case is None:
        return "?"
    if body.get("model") == "cand-model":
        probed = under_intervention(case, messages, body)
        if probed is not None:
            return probed
        text = case["cand"]
        if isinstance(text, list):
            return str(text[(int(body.get("seed") or 11) - 11) % len(text)])
        return str(text)
    return str(ALREADY_FAILING.get((case["suite"], case["id"]), case["good"]))


def write_project(root: Path, api_base: str) -> None:
    config = {
        "version": 1,
        "models": {
            "base": {"model": "openai/base-model", "api_base": api_base, "api_key_env": KEY_ENV},
            "cand": {"model": "openai/cand-model", "api_base": api_base, "api_key_env": KEY_ENV},
        },
        "defaults": {"model": "base", "params": {"temperature": 0, "max_tokens": 200}},
        "run": {"concurrency": 8, "timeout_s": 10, "retries": 1, "backoff_s": 0.01},
        "constraints": {"update_frequency": "weekly", "data_privacy": "external-ok"},
    }
    (root / "promptops.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    for name, text in PROMPTS.items():
        path = root / "prompts" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / "suites").mkdir(exist_ok=True)
    for suite, spec in SUITES.items():
        cases = [
            {"id": c["id"], "vars": c["vars"], "assert": c["assert"]}
            for c in [*CASES, *PR_CASES]
            if c["suite"] == suite
        ]
        data = {**spec, "cases": cases}
        (root / "suites" / f"{suite}.yaml").write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=200), encoding="utf-8"
        )
    (root / ".gitignore").write_text(".promptops/\n", encoding="utf-8")


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from promptops.cli import cli as promptops

    result = CliRunner().invoke(promptops, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout


def escalation_of(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["escalation"]


def by_case(escalation: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    cases = {(c["suite"], c["case"]): c for c in escalation["cases"]}
    advised: dict[tuple[str, str], set[str]] = {}
    for item in escalation["escalations"]:
        for evidence in item["evidence"]:
            advised.setdefault((evidence["suite"], evidence["case"]), set()).add(item["technique"])
    for key, case in cases.items():
        case["advised"] = advised.get(key, set())
    return cases


class Tally:
    """Diagnosed against true gaps and remedies, with the forbidden advice seen."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.confusion: Counter[tuple[str, str]] = Counter()
        self.technique_right = 0
        self.total = 0
        self.forbidden: Counter[str] = Counter()
        self.misses: list[str] = []

    def add(self, truth: dict[str, Any], got: dict[str, Any] | None, *, prompt_caused: bool = False) -> None:
        self.total += 1
        gap = (got or {}).get("gap") or "none"
        self.confusion[(truth["truth"], gap)] += 1
        want = "prompt-engineering" if prompt_caused else TECHNIQUE[truth["truth"]]
        technique = (got or {}).get("technique")
        self.technique_right += technique == want
        advised = (got or {}).get("advised", set())
        if truth.get("grounded") is True and "rag" in advised:
            self.forbidden["RAG on a grounded case"] += 1
        if truth["truth"] == "knowledge" and "fine-tuning" in advised:
            self.forbidden["fine-tuning for a missing fact"] += 1
        if prompt_caused and advised & {"rag", "fine-tuning"}:
            self.forbidden["RAG/fine-tuning for a prompt-caused regression"] += 1
        if gap != truth["truth"] or technique != want:
            top = ((got or {}).get("evidence") or [{}])[0]
            self.misses.append(
                f"{truth['suite']}::{truth['id']}: true {truth['truth']}/{want}, got {gap}/{technique} "
                f"({top.get('signal')}: {str(top.get('text'))[:140]})"
            )

    @property
    def right(self) -> int:
        return sum(n for (truth, got), n in self.confusion.items() if truth == got)


def print_matrix(tally: Tally) -> None:
    columns = [*GAPS, "none"]
    print(f"{'true / diagnosed':<18}" + "".join(f"{c:>13}" for c in columns) + f"{'accuracy':>11}")
    for gap in GAPS:
        row = [tally.confusion[(gap, c)] for c in columns]
        total = sum(row)
        accuracy = f"{row[GAPS.index(gap)] / total:.0%}" if total else "-"
        print(f"{gap:<18}" + "".join(f"{n:>13}" for n in row) + f"{accuracy:>11} of {total}")


def holdout() -> tuple[int, list[str]]:
    """The second set, diagnosed directly: right answers and the misses."""
    from promptops.escalation import CaseFacts, FailedCheck, classify_case

    right, misses = 0, []
    for case in HOLDOUT:
        failing = sum(count for _, count in case["outputs"])
        facts = CaseFacts(
            suite="holdout",
            case=case["id"],
            prompt="airline",
            model="m",
            model_id="m",
            status="failed",
            samples=failing + case["passed"],
            passed_samples=case["passed"],
            checks=[FailedCheck(case["type"], "failed", expected=case["expected"], options=case["options"])],
            outputs=case["outputs"],
            messages=[{"role": role, "content": text} for role, text in case["messages"]],
        )
        gap = classify_case(facts).gap
        right += gap == case["truth"]
        if gap != case["truth"]:
            misses.append(f"[holdout] {case['id']}: true {case['truth']}, got {gap}")
    return right, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every misjudged case")
    args = parser.parse_args()
    started = time.perf_counter()
    os.environ[KEY_ENV] = "bench-not-a-real-key"
    os.environ.pop("CI", None)
    here = Path.cwd()
    with FakeOpenAIServer(FakeState(default_answer=answer)) as server, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, server.api_base)
        git(root, "init", "-q", "-b", "main")
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "prompts v1")
        os.chdir(root)
        try:
            code, _ = cli("test", "-m", "cand", "--format", "json", "-o", "test.json")
            assert code == 1, f"test exited {code}"
            test_run = sorted((root / ".promptops" / "runs").iterdir())[-1].name
            probe_started = time.perf_counter()
            cli("diagnose", test_run, "--probe-budget", "5000", "--format", "json", "-o", "probes.json")
            probes_report = json.loads((root / "probes.json").read_text(encoding="utf-8"))
            probe_seconds = time.perf_counter() - probe_started
            cli("drift", "--baseline", "base", "--candidate", "cand", "--format", "json", "-o", "drift.json")
            for name, text in PROMPTS_V2.items():
                (root / "prompts" / name).write_text(text, encoding="utf-8")
            cli("test", "--base-ref", "HEAD", "--format", "json", "-o", "pr.json")
            reports = {name: escalation_of(root / f"{name}.json") for name in ("test", "drift", "pr")}
            again = {}
            for name in reports:
                _, out = cli("escalate", f"{name}.json", "--format", "json")
                again[name] = json.loads(out)
        finally:
            os.chdir(here)

    test, drift, pr = (by_case(reports[n]) for n in ("test", "drift", "pr"))
    measured = Tally("test run")
    not_failing = []
    for case in CASES:
        key = (case["suite"], case["id"])
        if key not in test:
            not_failing.append(key)
            continue
        measured.add(case, test[key])
    pr_tally = Tally("pull request")
    pr_attributed = 0
    for case in PR_CASES:
        if case["truth"] is None:
            continue
        got = pr.get((case["suite"], case["id"]))
        pr_tally.add(case, got, prompt_caused=True)
        pr_attributed += bool(got and (got.get("attribution") or {}).get("cause") == "prompt-change")
    drift_tally = Tally("model drift")
    attributed = same_as_test = drift_cases = 0
    for case in CASES:
        key = (case["suite"], case["id"])
        if key not in test:
            continue
        got = drift.get(key)
        drift_cases += 1
        drift_tally.add(case, got)
        want = "already-failing" if key in ALREADY_FAILING else "model-change"
        cause = (got.get("attribution") or {}).get("cause") if got else None
        attributed += cause == want
        if cause != want:
            drift_tally.misses.append(f"{key[0]}::{key[1]}: attributed to {cause}, not {want}")
        same_as_test += bool(
            got and got["gap"] == test[key]["gap"] and got["technique"] == test[key]["technique"]
        )
    agree = total = 0
    disagree: list[str] = []
    for name, report in reports.items():
        first = {
            (c["suite"], c["case"]): (c["gap"], c["confidence"], c["technique"]) for c in report["cases"]
        }
        second = {
            (c["suite"], c["case"]): (c["gap"], c["confidence"], c["technique"]) for c in again[name]["cases"]
        }
        total += len(first)
        agree += sum(second.get(k) == v for k, v in first.items())
        disagree.extend(
            f"[{name}] {k[0]}::{k[1]}: {v} then {second.get(k)}"
            for k, v in first.items()
            if second.get(k) != v
        )

    probed = by_case(probes_report["escalation"])
    with_probes = Tally("with probes")
    for case in CASES:
        key = (case["suite"], case["id"])
        if key in test:
            with_probes.add(case, probed.get(key))
    implied = {
        "knowledge": "oracle-context",
        "behavior": "format-repair",
        "skill": "few-shot",
        "reliability": "sampling",
    }
    outcomes: dict[tuple[str, str], dict[str, Any]] = {}
    for o in probes_report["outcomes"]:
        outcomes.setdefault((o["suite"], o["case"]), {})[o["probe"]] = o["fixed"]
    probed_cases = consistent = 0
    for case in CASES:
        seen = outcomes.get((case["suite"], case["id"]))
        if not seen:
            continue
        probed_cases += 1
        # the truth's own probe fixes it where it ran, and no other probe points elsewhere
        want = implied[case["truth"]]
        fixed = {kind for kind, ok in seen.items() if ok}
        consistent += (want in fixed or want not in seen) and (fixed <= {want, "few-shot"})

    held_right, held_misses = holdout()
    print("Diagnosis benchmark: Larkspur Outfitters support desk, 7 suites, no gap hints")
    print(f"  {len(CASES)} cases on the candidate model, {len(not_failing)} of them passing (controls)")
    print(
        f"  {len(PR_CASES)} pull-request cases on the baseline model, prompts at HEAD vs the working tree\n"
    )
    combined = Tally("all")
    for tally in (measured, pr_tally):
        combined.confusion.update(tally.confusion)
        combined.total += tally.total
        combined.technique_right += tally.technique_right
        combined.forbidden.update(tally.forbidden)
        combined.misses.extend(tally.misses)
    print(
        f"Failing cases diagnosed: {combined.total} "
        f"({measured.total} test run + {pr_tally.total} pull request)\n"
    )
    print_matrix(combined)
    print()
    rows = [
        ("exact gap, test run", measured.right, measured.total),
        ("exact gap, pull request", pr_tally.right, pr_tally.total),
        ("exact gap, overall", combined.right, combined.total),
        ("right remedy per case, overall", combined.technique_right, combined.total),
        ("exact gap, model drift (candidate side)", drift_tally.right, drift_tally.total),
        ("right remedy, model drift", drift_tally.technique_right, drift_tally.total),
        ("drift attribution (model change / already failing)", attributed, drift_cases),
        ("pull-request attribution (prompt change)", pr_attributed, pr_tally.total),
        ("drift gap and remedy = test run's", same_as_test, drift_cases),
        ("escalate REPORT.json = the command's diagnosis", agree, total),
        ("exact gap, second set (airline, written after the code)", held_right, len(HOLDOUT)),
    ]
    for label, right, n in rows:
        share = right / n if n else 0.0
        print(f"  {label:<58} {right:>4}/{n:<4} {share:6.1%}")
    print(
        f"\nWith probes (promptops diagnose {test_run} --probe-budget 5000): {probed_cases} of "
        f"{measured.total} failing cases probed, {probes_report['planned_calls']} probe calls planned, "
        f"{probes_report['provider_calls']} made, {probe_seconds:.1f} s"
    )
    for label, right, n in (
        ("exact gap with probes, test run", with_probes.right, with_probes.total),
        ("right remedy with probes, test run", with_probes.technique_right, with_probes.total),
        ("probe outcomes as the true gap implies (probed cases)", consistent, probed_cases),
    ):
        share = right / n if n else 0.0
        print(f"  {label:<58} {right:>4}/{n:<4} {share:6.1%}")
    per_case = probes_report["planned_calls"] / max(1, measured.total)
    print(f"  {'probe calls per failing case':<58} {per_case:>9.1f}")
    forbidden = combined.forbidden + drift_tally.forbidden + with_probes.forbidden
    print("\nForbidden advice:")
    for label in (
        "RAG on a grounded case",
        "fine-tuning for a missing fact",
        "RAG/fine-tuning for a prompt-caused regression",
    ):
        print(f"  {label:<58} {forbidden[label]:>4}")
    print(f"\n{time.perf_counter() - started:.1f} s")
    if args.verbose or combined.right < combined.total or held_misses or with_probes.misses:
        misses = (
            combined.misses
            + [f"[drift] {m}" for m in drift_tally.misses]
            + disagree
            + held_misses
            + [f"[probes] {m}" for m in with_probes.misses]
        )
        if misses:
            print("\nMisjudged:")
            for line in misses if args.verbose else misses[:15]:
                print("  " + line)
    met = (
        combined.right >= 0.9 * combined.total
        and combined.technique_right >= 0.9 * combined.total
        and not sum(forbidden.values())
        and with_probes.right >= 0.95 * with_probes.total
        and with_probes.technique_right >= 0.95 * with_probes.total
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
