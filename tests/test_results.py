"""The one case verdict: `promptops test`, drift and escalation fold samples the same way."""

from __future__ import annotations

import json
import random
import typing
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import config_text
from fake_openai import FakeOpenAIServer
from fuzz_inputs import _mutators
from test_drift import meta, sample, write_run

from promptops.drift import compare_results
from promptops.errors import UsageError
from promptops.escalation import escalate_drift, escalate_run
from promptops.results import (
    AssertionOutcome,
    CaseTally,
    CaseVerdict,
    CaseVerdicts,
    ErrorInfo,
    ErrorRow,
    JudgeRow,
    JudgeTrace,
    OutcomeRow,
    RunWriter,
    SampleResult,
    SampleRow,
    SavedRun,
    read_results,
    read_rows,
    row_of,
    summarize,
    summary_json_chunks,
)


def _samples(passes: int, fails: int, errors: int, threshold: float) -> list[SampleResult]:
    """One case's samples: ``passes`` passing, ``fails`` failing, then ``errors`` timed out."""
    kinds = [True] * passes + [False] * fails + [None] * errors
    return [
        sample("c", kind, index=i, threshold=threshold, error="Timeout" if kind is None else None)
        for i, kind in enumerate(kinds)
    ]


@pytest.mark.parametrize(
    ("passes", "fails", "errors", "threshold", "verdict"),
    [
        pytest.param(1, 0, 1, 1.0, "error", id="pass+timeout@1.0"),
        pytest.param(2, 0, 0, 1.0, "passed", id="all-pass"),
        pytest.param(1, 1, 0, 1.0, "failed", id="pass+fail@1.0"),
        pytest.param(0, 1, 1, 1.0, "failed", id="fail+timeout@1.0"),
        pytest.param(1, 1, 1, 0.5, "error", id="pass+fail+timeout@0.5"),
        pytest.param(0, 0, 2, 1.0, "error", id="all-timeout"),
        pytest.param(3, 1, 0, 0.75, "passed", id="at-threshold"),
    ],
)
def test_test_and_drift_give_a_case_the_same_verdict(
    passes: int, fails: int, errors: int, threshold: float, verdict: str
) -> None:
    results = _samples(passes, fails, errors, threshold)
    run = summarize(meta("r2").model_copy(update={"planned_calls": len(results)}), results)
    baseline = [sample("c", True, index=i, threshold=threshold) for i in range(len(results))]
    drift = compare_results(meta("r1"), baseline, meta("r2"), results)
    case = drift.cases[0]
    assert run.cases[0].status == verdict
    assert case.candidate is not None and case.candidate.verdict == verdict
    # no verdict on one side is an error for the comparison, and exit 3 for both commands
    if verdict == "error":
        assert case.status == "error" and run.exit_code == drift.exit_code == 3


def test_one_passing_and_one_timed_out_sample_is_an_error_for_test_and_drift(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    """The example that once split the commands: `test` said error, `drift` said unchanged."""
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    make_project(config=config_text(fake_server.api_base).replace("retries: 3", "retries: 0"))
    args = ("--repeat", "2", "-j", "1", "--filter", "refund-basic", "--format", "json")

    fake_server.state.fault_script[:] = ["timeout"]
    tested = run_cli("test", *args)
    assert tested.exit_code == 3, tested.output
    case = json.loads(tested.stdout)["cases"][0]
    assert (case["status"], case["passed_samples"], case["errored_samples"]) == ("error", 1, 1)

    fake_server.state.fault_script[:] = ["timeout"]  # the baseline's first sample times out
    drifted = run_cli("drift", "--baseline", "fake", "--candidate", "other", "--no-cache", *args)
    assert drifted.exit_code == 3, drifted.output
    report = json.loads(drifted.stdout)
    entry = report["cases"][0]
    assert entry["status"] == "error" and entry["baseline"]["verdict"] == "error"
    assert entry["candidate"]["verdict"] == "passed"
    assert report["status"] == "error"


def test_escalation_classifies_a_case_the_same_from_a_run_and_from_a_drift_report(tmp_path: Path) -> None:
    """The same failing samples get the same diagnosis from `escalate RUN` and from a drift's escalation."""
    failing = [
        sample("c", False, "bug", index=0),
        sample("c", False, "  Question ", index=1),
        sample("d", False, "Label: refund.", index=0, gap="skill"),
        sample("d", False, "Label: refund.", index=1, gap="skill"),
        sample("e", True, "refund", index=0),
        sample("e", False, "I'm not sure, I don't have access to that", index=1),
    ]
    run = write_run(tmp_path, "r2", failing)
    run_meta = run.meta.model_copy(update={"planned_calls": len(failing)})
    from_run = escalate_run(None, run_meta, summarize(run_meta, failing), run.results())
    # the baseline failed the same way: the drift adds no cause of its own
    report = compare_results(meta("r1"), failing, run_meta, run.results())
    from_drift = escalate_drift(None, report, run)

    def diagnosed(found) -> dict[str, tuple[Any, ...]]:
        return {
            c.case: (c.gap, c.gaps, c.spread, c.grounded, [(e.signal, e.gap) for e in c.evidence])
            for c in found.cases
        }

    assert diagnosed(from_run) == diagnosed(from_drift)
    assert set(diagnosed(from_run)) == {"c", "d", "e"}


def test_tally_is_the_same_whatever_order_the_samples_arrive_in() -> None:
    """Results arrive as calls complete; the lowest sample index decides what is shown."""
    results = [
        sample("c", False, "first", index=0, reason="expected 'refund', got 'first'"),
        sample("c", False, "second", index=1, reason="expected 'refund', got 'second'"),
        sample("c", None, index=2, error="Timeout"),
        sample("c", None, index=3, error="RateLimitError"),
    ]
    verdicts = []
    for ordered in (results, results[::-1]):
        tally = CaseTally.first(ordered[0])
        for result in ordered:
            tally.add(result)
        verdicts.append(tally.case_verdict("s", "c", "m"))
    assert verdicts[0] == verdicts[1]
    verdict = verdicts[0]
    assert verdict.status == "failed" and verdict.output_excerpt == "first"
    assert verdict.error is not None and verdict.error.type == "Timeout"
    assert [o.reason for o in verdict.failed_assertions] == [
        "expected 'refund', got 'first'",
        "expected 'refund', got 'second'",
    ]


def _mixed_run() -> list[SampleResult]:
    """Passing cases (packed in the summary), a failing one, an errored one and a 2-of-3 case."""
    results = [sample(f"pass-{i:03d}", True, "refund", index=0) for i in range(700)]
    results += [sample("fails", False, 'bug \u00e9\n"quoted"', gap="skill")]
    results += [sample("times-out", None, error="Timeout")]
    results += [sample("two-of-three", kind, "refund", index=i) for i, kind in enumerate([True, True, False])]
    return results


def test_summary_packs_passing_verdicts_and_reads_them_back_whole() -> None:
    summary = summarize(meta("r1"), _mixed_run())
    cases = summary.cases
    assert isinstance(cases, CaseVerdicts) and len(cases) == 703
    # only the cases with something to show are kept as models
    assert sum(isinstance(row, CaseVerdict) for row in cases._rows) == 3
    assert cases.statuses() == {"passed": 700, "failed": 2, "error": 1}
    assert [v.case for v in summary.failures] == ["fails", "times-out", "two-of-three"]
    # listed by suite, model, line, then id (these samples carry no line)
    assert [v.case for v in cases[:3]] == ["fails", "pass-000", "pass-001"]
    unpacked = cases[1]
    assert isinstance(unpacked, CaseVerdict)
    assert (unpacked.status, unpacked.pass_rate, unpacked.duration_ms) == ("passed", 1.0, 100.0)
    assert unpacked.failed_assertions == [] and unpacked.output_excerpt is None
    # the same verdicts as building every model, in the same order
    assert list(cases) == [CaseVerdict.model_validate(v.model_dump()) for v in cases]
    assert cases == list(cases) and cases != list(cases)[1:]


def test_summary_json_is_the_models_own_json_written_in_batches(tmp_path: Path) -> None:
    summary = summarize(meta("r1"), _mixed_run())
    whole = summary.model_dump_json(indent=2)
    assert "".join(summary_json_chunks(summary)) == whole
    assert len(list(summary.cases.json_pieces())) == 2  # 703 verdicts, 500 a batch
    # the JSON report wraps the same object between its own keys
    report = json.loads(
        "".join(summary_json_chunks(summary, before={"kind": "test"}, after={"escalation": None}))
    )
    assert list(report)[0] == "kind" and list(report)[-1] == "escalation"
    assert {k: v for k, v in report.items() if k not in ("kind", "escalation")} == json.loads(whole)
    # summary.json reads back into the same summary, whose verdicts are packed again
    run = write_run(tmp_path, "r1", _mixed_run())
    writer = RunWriter(run.folder, run.meta)
    writer.finish(summary)
    again = run.summary()
    assert again == summary and isinstance(again.cases, CaseVerdicts)
    assert sum(isinstance(row, CaseVerdict) for row in again.cases._rows) == 3
    empty = summary.model_copy(update={"cases": CaseVerdicts()})
    assert "".join(summary_json_chunks(empty)) == empty.model_dump_json(indent=2)


# --- lean rows: the read path of drift ---------------------------------------------------------

MIRRORS = [
    (SampleRow, SampleResult),
    (OutcomeRow, AssertionOutcome),
    (ErrorRow, ErrorInfo),
    (JudgeRow, JudgeTrace),
]


@pytest.mark.parametrize(("row", "model"), [pytest.param(r, m, id=m.__name__) for r, m in MIRRORS])
def test_rows_mirror_the_result_models_field_for_field(row: Any, model: Any) -> None:
    """A field added to a result model must be added to its row, with the same type and default."""
    names = {m.__name__: r.__name__ for r, m in MIRRORS}
    hints = typing.get_type_hints(row)
    fields = {f.name: f for f in msgspec.structs.fields(row)}
    assert list(fields) == list(model.model_fields) or set(fields) == set(model.model_fields)
    for name, info in model.model_fields.items():
        expected = repr(info.annotation)
        for model_name, row_name in names.items():
            expected = expected.replace(f".{model_name}", f".{row_name}")
        assert repr(hints[name]) == expected, name
        default = info.default_factory() if info.default_factory else info.default  # type: ignore[call-arg]
        got = (
            fields[name].default_factory() if callable(fields[name].default_factory) else fields[name].default
        )
        if info.is_required():
            assert got is msgspec.NODEFAULT, name
        else:
            assert got == default, name
    # a validator on a model would have to be applied to its row too: only the error's redaction is
    validators = {
        m.__name__: sorted(m.__pydantic_decorators__.field_validators)
        + sorted(m.__pydantic_decorators__.model_validators)
        for _, m in MIRRORS
    }
    assert validators == {
        "SampleResult": [],
        "AssertionOutcome": [],
        "ErrorInfo": ["_redacted"],
        "JudgeTrace": [],
    }


def _varied_results(rng: random.Random, count: int) -> list[SampleResult]:
    """Results with every kind of field a run writes: errors, judges, failing details, odd text."""
    results = []
    for index in range(count):
        kind = rng.choice(["pass", "fail", "error", "judged"])
        if kind == "error":
            results.append(
                sample(
                    f"c{index % 5}", None, index=index, error=rng.choice(["Timeout", "AuthenticationError"])
                )
            )
            continue
        base = sample(
            f"c{index % 5}",
            kind != "fail",
            rng.choice(["refund", "caf\u00e9 \U0001f600", '{"a": [1]}']),
            index=index,
        )
        outcome = AssertionOutcome(
            type="llm-rubric" if kind == "judged" else "json-match",
            passed=kind != "fail",
            score=0.5,
            reason="differs",
            gap=rng.choice([None, "skill"]),
            judge=JudgeTrace(
                model="j", model_id="openai/j", votes=[True, None, False], answers=["y"], cost_usd=0.1
            )
            if kind == "judged"
            else None,
            expected={"a": [1, {"b": None}], "c": 1.5} if kind == "fail" else None,
            options={"ignore_order": True} if kind == "fail" else {},
        )
        results.append(
            base.model_copy(
                update={
                    "assertions": [outcome, *base.assertions],
                    "messages": [{"role": "user", "content": "x"}] if kind == "fail" else None,
                    "line": rng.choice([None, 7]),
                    "cached": rng.random() < 0.5,
                }
            )
        )
    return results


def _read(reader: Any, path: Path) -> tuple[str, list[str]]:
    """What a reader makes of a file: its rows (as reprs) or its error, to compare readers."""
    try:
        return "ok", [repr(row_of(r) if isinstance(r, SampleResult) else r) for r in reader(path)]
    except UsageError as exc:
        return "error", [str(exc), str(exc.file), str(exc.line)]


def test_rows_are_read_exactly_as_results_are_from_mutated_run_records(tmp_path: Path) -> None:
    """Every damaged line gets the same message, file and line; every good one the same values."""
    rng = random.Random(20)
    writer = RunWriter(tmp_path / "run", meta("r"))
    for result in _varied_results(rng, 12):
        writer.append(result)
    writer.close()
    path = tmp_path / "run" / "results.jsonl"
    original = path.read_bytes()
    assert _read(read_rows, path) == _read(read_results, path)
    mutators = _mutators("jsonl")
    kinds = {"ok": 0, "error": 0}
    for _ in range(400):
        name = rng.choice(sorted(mutators))
        path.write_bytes(mutators[name](rng, original))
        expected = _read(read_results, path)
        assert _read(read_rows, path) == expected, name
        kinds[expected[0]] += 1
    assert kinds["ok"] > 20 and kinds["error"] > 100, kinds


def test_a_resumed_runs_rows_are_its_results_from_mutated_run_records(tmp_path: Path) -> None:
    """A resumed run keeps the last result of each call: rows and results agree on damaged records too."""
    rng = random.Random(21)
    results = _varied_results(rng, 12)
    # calls done again after a resume: the later line counts
    results += [r.model_copy(update={"output": "again"}) for r in results[:5]]
    writer = RunWriter(tmp_path / "run", meta("r").model_copy(update={"resumes": 1}))
    for result in results:
        writer.append(result)
    writer.close()
    run = SavedRun(tmp_path / "run", meta("r").model_copy(update={"resumes": 1}))
    path = run.folder / "results.jsonl"
    original = path.read_bytes()
    assert len(list(run.rows())) == 12
    mutators = _mutators("jsonl")
    kinds = {"ok": 0, "error": 0}
    for _ in range(300):
        name = rng.choice(sorted(mutators))
        path.write_bytes(mutators[name](rng, original))
        expected = _read(lambda _: run.results(), path)
        assert _read(lambda _: run.rows(), path) == expected, name
        kinds[expected[0]] += 1
    assert kinds["ok"] > 20 and kinds["error"] > 60, kinds


def test_an_unterminated_bad_last_line_does_not_hide_its_calls_earlier_result(tmp_path: Path) -> None:
    """A last line without its newline is a write cut short: skipped, even when it names an earlier call."""
    first, again = sample("c", True, "first"), sample("c", False, "again")
    resumed = meta("r").model_copy(update={"resumes": 1})
    writer = RunWriter(tmp_path / "run", resumed)
    writer.append(first)
    writer.close()
    run = SavedRun(tmp_path / "run", resumed)
    line = again.model_dump_json().replace("{", '{"surprise": 1, ', 1)
    with open(run.folder / "results.jsonl", "a") as handle:
        handle.write(line)  # no newline
    assert [r.output for r in run.results()] == ["first"]
    assert [r.output for r in run.rows()] == ["first"]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda d: d | {"sample": 1.0}, id="int-as-float"),
        pytest.param(lambda d: d | {"threshold": 1}, id="float-as-int"),
        pytest.param(lambda d: d | {"passed": "true"}, id="bool-as-string"),
        pytest.param(lambda d: d | {"sample": 10**30}, id="huge-int"),
        pytest.param(lambda d: d | {"latency_ms": "1e400"}, id="float-string"),
        pytest.param(lambda d: d | {"gap": "nope"}, id="bad-literal"),
        pytest.param(lambda d: d | {"surprise": 1}, id="unknown-key"),
        pytest.param(lambda d: {k: v for k, v in d.items() if k != "case"}, id="missing-key"),
        pytest.param(
            lambda d: d | {"error": {"type": "E", "message": "key sk-abcdefghijklmnopqrstuvwxyz0123"}},
            id="secret",
        ),
        pytest.param(lambda d: _nest(d, 60), id="nested-60"),
        pytest.param(lambda d: _nest(d, 150), id="nested-150"),
        pytest.param(lambda d: _nest(d, 400), id="nested-400"),
    ],
)
def test_rows_take_what_the_model_takes_and_refuse_what_it_refuses(tmp_path: Path, change: Any) -> None:
    """Lax values pydantic converts, depths only pydantic's parser refuses, redaction on read."""
    line = json.loads(sample("c", False).model_dump_json())
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(sample("c", True).model_dump()) + "\n" + json.dumps(change(line)) + "\n")
    assert _read(read_rows, path) == _read(read_results, path)


def _nest(line: dict[str, Any], depth: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    line["assertions"][0]["expected"] = value
    return line
