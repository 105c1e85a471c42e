"""Response cache, record/replay, sharding, merge and the shared-proxy setup."""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import FAKE_KEY_ENV, config_text
from fake_openai import FakeOpenAIServer

from promptops.cache import CachedResponse, ResponseCache, request_key

ANSWERS = {"charged twice": "refund", "crashes": "bug"}


def _report(result) -> dict:
    return json.loads(result.stdout)


def test_rerun_is_answered_from_cache(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    assert run_cli("test").exit_code == 0
    assert len(fake_server.state.requests) == 2
    result = run_cli("test", "--format", "json")
    assert result.exit_code == 0
    assert len(fake_server.state.requests) == 2  # zero provider calls
    assert all(c["status"] == "passed" for c in _report(result)["cases"])
    result = run_cli("test", "--no-cache")
    assert len(fake_server.state.requests) == 4


def test_param_change_misses_and_repeats_are_distinct(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = ANSWERS
    root = make_project()
    assert run_cli("test", "--repeat", "3").exit_code == 0
    assert len(fake_server.state.requests) == 6  # 2 cases x 3 distinct samples
    assert run_cli("test", "--repeat", "3").exit_code == 0
    assert len(fake_server.state.requests) == 6
    suite = (
        (root / "suites/triage.yaml")
        .read_text()
        .replace("description: Triage labels", "params: {max_tokens: 9}")
    )
    (root / "suites/triage.yaml").write_text(suite)
    assert run_cli("test").exit_code == 0
    assert len(fake_server.state.requests) == 8


def test_request_key_properties() -> None:
    messages = [{"role": "user", "content": "hi"}]
    key = request_key("openai/a", messages, {"temperature": 0, "max_tokens": 5}, 0)
    assert key == request_key("openai/a", messages, {"max_tokens": 5, "temperature": 0}, 0)
    assert key != request_key("openai/a", messages, {"temperature": 0.1, "max_tokens": 5}, 0)
    assert key != request_key("openai/b", messages, {"temperature": 0, "max_tokens": 5}, 0)
    assert key != request_key("openai/a", messages, {"temperature": 0, "max_tokens": 5}, 1)
    assert key != request_key("openai/a", [{"role": "user", "content": "hi!"}], {"temperature": 0}, 0)
    # credentials never change (or enter) a key
    assert key == request_key("openai/a", messages, {"temperature": 0, "max_tokens": 5, "api_key": "sk-1"}, 0)


def test_cache_stats_and_clear(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = ANSWERS
    make_project()
    assert run_cli("test").exit_code == 0
    result = run_cli("cache", "stats")
    assert result.exit_code == 0, result.output
    assert "entries: 2" in result.output and "openai/fake-model: 2" in result.output
    cleared = run_cli("cache", "clear")
    assert cleared.exit_code == 0 and "removed 2 cached responses" in cleared.output
    after = run_cli("cache", "stats")
    assert after.exit_code == 0 and "entries: 0" in after.output


def _write_many(path: str, start: int) -> None:
    cache = ResponseCache(Path(path))
    for i in range(start, start + 300):
        cache.put(f"k{i}", "openai/m", CachedResponse(text=f"answer {i}"))
    cache.close()


@pytest.mark.parametrize("precreated", [True, False], ids=["existing-cache", "new-cache"])
def test_two_processes_write_the_cache_at_once(tmp_path: Path, precreated: bool) -> None:
    path = str(tmp_path / "cache.sqlite3")
    if precreated:
        ResponseCache(Path(path)).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(path, n * 300)) for n in range(2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    cache = ResponseCache(Path(path))
    assert cache.stats()["entries"] == 600
    assert cache.get("k599") == CachedResponse(text="answer 599")
    cache.close()
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_api_key_never_stored(make_project, run_cli, fake_server) -> None:
    """The shared-proxy setup: alias -> api_base + key from the environment; the key stays out of files."""
    fake_server.state.answers = ANSWERS
    root = make_project()
    assert run_cli("test", "-o", "report.json", "--format", "json").exit_code == 0
    assert run_cli("record").exit_code == 0
    assert set(fake_server.state.authorizations) == {"Bearer sk-test-not-a-real-key"}
    for path in [*root.rglob("*")]:
        if path.is_file():
            assert b"sk-test-not-a-real-key" not in path.read_bytes(), path


def test_record_then_replay_without_keys_or_network(make_project, run_cli, fake_server, monkeypatch) -> None:
    fake_server.state.answers = {**ANSWERS, "crashes": "bug\nsecond line"}
    root = make_project()
    result = run_cli("record")
    assert result.exit_code == 0, result.output
    recording = root / "suites/triage.recording.yaml"
    text = recording.read_text()
    assert "output: |-\n    bug\n    second line" in text  # multi-line answers diff line by line
    data = yaml.safe_load(text)
    assert [r["case"] for r in data["recordings"]] == ["refund-basic", "crash"]
    first = text
    assert run_cli("record").exit_code == 0
    assert recording.read_text() == first  # deterministic

    (root / ".promptops").rename(root / "old-state")  # no cache: recordings alone must answer
    monkeypatch.delenv(FAKE_KEY_ENV)
    before = len(fake_server.state.requests)
    result = run_cli("test", "--replay", "--format", "json")
    assert result.exit_code == 1  # 'crash' answer has two lines: a real failure, from the recording
    assert len(fake_server.state.requests) == before
    statuses = {c["case"]: c["status"] for c in _report(result)["cases"]}
    assert statuses == {"refund-basic": "passed", "crash": "failed"}


def test_record_keeps_other_models_and_drops_removed_cases(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = ANSWERS
    root = make_project()
    recording = root / "suites/triage.recording.yaml"

    def entries() -> list[tuple[str, str]]:
        return sorted((r["case"], r["model"]) for r in yaml.safe_load(recording.read_text())["recordings"])

    assert run_cli("record", "-m", "fake").exit_code == 0
    assert run_cli("record", "-m", "other").exit_code == 0
    assert entries() == [
        ("crash", "fake"),
        ("crash", "other"),
        ("refund-basic", "fake"),
        ("refund-basic", "other"),
    ]
    suite = root / "suites/triage.yaml"
    suite.write_text(suite.read_text().split("  - id: crash")[0])
    assert run_cli("record", "-m", "fake").exit_code == 0
    assert entries() == [("refund-basic", "fake"), ("refund-basic", "other")]


def test_replay_miss_exits_3_naming_case_and_model(make_project, run_cli, fake_server) -> None:
    fake_server.state.answers = ANSWERS
    root = make_project()
    assert run_cli("record").exit_code == 0
    suite = root / "suites/triage.yaml"
    suite.write_text(suite.read_text().replace("The app crashes", "The app crashes badly"))
    before = len(fake_server.state.requests)
    result = run_cli("test", "--replay", "--no-cache")
    assert result.exit_code == 3
    assert "replay miss: 1 case(s)" in result.output
    assert "triage::crash [fake]" in result.output
    assert len(fake_server.state.requests) == before


def _many_cases(count: int) -> str:
    cases = "\n".join(
        f"  - id: c{i:03d}\n    vars: {{ticket: 'ticket {i}'}}\n"
        "    assert: [{type: contains, value: ticket}]"
        for i in range(count)
    )
    return f"prompt: support/triage\ncases:\n{cases}\n"


def test_shards_split_the_plan_and_merge_into_one_verdict(make_project, run_cli, fake_server) -> None:
    make_project({"suites/triage.yaml": _many_cases(40)})
    one = _report(run_cli("test", "--shard", "1/2", "--format", "json"))
    two = _report(run_cli("test", "--shard", "2/2", "--format", "json"))
    first = {c["case"] for c in one["cases"]}
    second = {c["case"] for c in two["cases"]}
    assert first and second and not first & second
    assert first | second == {f"c{i:03d}" for i in range(40)}
    assert len(fake_server.state.requests) == 40
    merged = run_cli("merge", one["run_id"], two["run_id"], "--format", "json")
    assert merged.exit_code == 0, merged.output
    report = _report(merged)
    assert report["planned_calls"] == report["completed_calls"] == 40
    assert len(report["cases"]) == 40
    again = run_cli("merge", one["run_id"], one["run_id"])
    assert again.exit_code == 2
    assert "same shard appears twice" in again.output


def test_bad_shard_is_usage_error(make_project, run_cli) -> None:
    make_project()
    for bad in ("3/2", "0/2", "x", "1/0"):
        result = run_cli("test", "--shard", bad)
        assert result.exit_code == 2 and "--shard expects I/N" in result.output


def test_faults_leave_every_case_accounted_for(make_project, run_cli, fake_server, tmp_path) -> None:
    """20 % of calls fail with 429/500/timeout/reset; each case ends passed, failed or errored, once."""
    state = fake_server.state
    state.fault_rate = 0.2
    state.hang_s = 1.5
    state.retry_after_s = 0.01
    config = config_text(fake_server.api_base).replace("retries: 3", "retries: 6")
    root = make_project({"suites/triage.yaml": _many_cases(150)}, config=config)
    result = run_cli("test", "-j", "16", "--timeout", "0.5", "--format", "json")
    report = _report(result)
    assert report["planned_calls"] == report["completed_calls"] == 150
    statuses = [c["status"] for c in report["cases"]]
    assert len(statuses) == 150 and set(statuses) <= {"passed", "failed", "error"}
    run = root / ".promptops" / "runs" / report["run_id"] / "results.jsonl"
    keys = [json.loads(line)["case"] for line in run.read_text().splitlines()]
    assert sorted(keys) == sorted(f"c{i:03d}" for i in range(150))  # none lost, none duplicated
    faults = len(state.requests) - state.completions
    assert faults > 10  # the faults really happened
    assert result.exit_code in (0, 3)


@pytest.mark.parametrize("ref", ["nope", "zzz"])
def test_merge_unknown_run(make_project, run_cli, ref) -> None:
    make_project()
    result = run_cli("merge", ref, "other")
    assert result.exit_code == 2 and f"no run {ref!r}" in result.output


def test_unreadable_recording_is_a_clear_error(make_project, run_cli) -> None:
    root = make_project()
    (root / "suites/triage.recording.yaml").write_bytes(b"version: 1\nsuite: caf\xe9\n")
    result = run_cli("test", "--replay")
    assert result.exit_code == 2
    # the same message and line as any other YAML file promptops reads
    assert "error: suites/triage.recording.yaml:2: file is not valid UTF-8" in result.output
    assert "Traceback" not in result.output
