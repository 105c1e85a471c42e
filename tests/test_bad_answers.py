"""Whatever the provider sends, the run finishes, every case gets a result and summary.json is written.

The fake provider answers with scripted replies: 200 KB of ``[``, a lone surrogate,
no choices, an error object with status 200, null content, and an output on which a
backtracking regex never ends. Each becomes a failed or errored result with a
reason; ``--replay``, ``record`` and ``golden update`` then work on what was kept.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAIServer, Reply

from promptops.assertions.golden import text_similarity
from promptops.cache import CACHE_FILE, CachedResponse, ResponseCache

SUITE = """\
prompt: support/triage
cases:
  - id: refund-basic
    vars: {ticket: "I was charged twice, please give my money back"}
    assert:
      - {type: is-json}
      - {type: contains-json}
      - {type: regex, value: '^(a+)+$'}
      - {type: golden}
  - id: crash
    vars: {ticket: "The app crashes when I open settings"}
    assert:
      - {type: not-contains, value: refund}
"""

EMPTY_CHOICES = Reply(
    200, {"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": []}
)
ERROR_WITH_200 = Reply(200, {"error": {"message": "the model is overloaded", "type": "server_error"}})


def run_records(root: Path) -> tuple[list[dict], dict]:
    runs = sorted((root / ".promptops" / "runs").iterdir())
    run = runs[-1]
    results = [json.loads(line) for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    return results, json.loads((run / "summary.json").read_text(encoding="utf-8"))


def assert_finished(result, root: Path) -> tuple[dict[str, dict], dict]:
    assert "Traceback" not in result.output, result.output
    assert result.exit_code in (1, 3), result.output
    records, summary = run_records(root)
    by_case = {r["case"]: r for r in records}
    assert sorted(by_case) == ["crash", "refund-basic"], records
    return by_case, summary


@pytest.mark.parametrize(
    ("reply", "status", "reason"),
    [
        pytest.param(
            Reply.completion("[" * 200_000), "failed", "JSON nested too deeply", id="200KB-of-brackets"
        ),
        pytest.param(Reply.completion("\ud800"), "failed", "output is not JSON", id="lone-surrogate"),
        pytest.param(EMPTY_CHOICES, "error", "answered with no choices", id="empty-choices"),
        pytest.param(ERROR_WITH_200, "error", "the model is overloaded", id="error-object-with-200"),
        pytest.param(Reply.completion(None), "failed", "null content", id="null-content"),
        pytest.param(Reply(200, "<html>busy</html>"), "error", "Expecting value", id="html-with-200"),
        pytest.param(
            Reply(200, {"id": "x", "object": "chat.completion", "model": "m", "choices": [{"index": 0}]}),
            "error",
            "Invalid response object",
            id="choice-without-message",
        ),
        pytest.param(
            Reply.completion("a" * 30 + "!"), "failed", "did not finish within 1 s", id="backtracking"
        ),
    ],
)
def test_any_answer_gives_every_case_a_result(
    make_project, run_cli, fake_server: FakeOpenAIServer, reply: Reply, status: str, reason: str
) -> None:
    fake_server.state.replies = {"": reply}
    root = make_project({"suites/triage.yaml": SUITE})
    by_case, summary = assert_finished(run_cli("test"), root)
    assert summary["status"] in ("failed", "error")
    statuses = {case["case"]: case["status"] for case in summary["cases"]}
    assert statuses["refund-basic"] == status, summary["cases"]
    record = by_case["refund-basic"]
    text = json.dumps(record)
    assert reason in text, text
    if status == "error":
        assert record["error"]["message"] and "Traceback" not in record["error"]["message"]
    # a null answer fails even the case whose only assertion (not-contains) holds on an empty text
    if reason == "null content":
        assert statuses["crash"] == "failed"
        assert by_case["crash"]["assertions"][0]["reason"].startswith("the model answered with null content")


def test_backtracking_regex_is_an_errored_assertion(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    fake_server.state.replies = {"": Reply.completion("a" * 30 + "!")}
    suite = SUITE.replace("{type: is-json}", "{type: contains, value: aaa}").replace(
        "      - {type: contains-json}\n", ""
    )
    root = make_project({"suites/triage.yaml": suite.replace("      - {type: golden}\n", "")})
    by_case, summary = assert_finished(run_cli("test"), root)
    regex = next(a for a in by_case["refund-basic"]["assertions"] if a["type"] == "regex")
    assert regex["error"] is True and regex["passed"] is False
    assert "catastrophic backtracking" in regex["reason"]
    assert {c["case"]: c["status"] for c in summary["cases"]}["refund-basic"] == "error"


@pytest.mark.parametrize(
    "content", [pytest.param("\ud800", id="lone-surrogate"), pytest.param("[" * 200_000, id="brackets")]
)
def test_kept_answers_replay_record_and_become_golden(
    make_project, run_cli, fake_server: FakeOpenAIServer, content: str
) -> None:
    fake_server.state.replies = {"": Reply.completion(content)}
    root = make_project({"suites/triage.yaml": SUITE})
    assert_finished(run_cli("test"), root)
    calls = len(fake_server.state.requests)
    replayed = run_cli("test", "--replay")
    assert_finished(replayed, root)
    assert len(fake_server.state.requests) == calls, "replay must not call the provider"
    for command in (["record"], ["golden", "update"]):
        result = run_cli(*command)
        assert result.exit_code == 0, result.output
        assert "Traceback" not in result.output
    golden = (root / "suites" / "triage.golden.yaml").read_text(encoding="utf-8")
    assert "refund-basic" in golden
    assert (root / "suites" / "triage.recording.yaml").is_file()


def test_a_surrogate_already_in_the_cache_replays(
    make_project, run_cli, fake_server: FakeOpenAIServer
) -> None:
    """A cache written before answers were cleaned can hold a lone surrogate: it must not crash a replay."""
    fake_server.state.answers = {"charged twice": "refund", "crashes": "bug"}
    root = make_project({"suites/triage.yaml": SUITE})
    assert_finished(run_cli("test"), root)
    cache = ResponseCache(root / ".promptops" / CACHE_FILE)
    records, _ = run_records(root)
    for record in records:
        cache.put(record["request_key"], record["model_id"], CachedResponse("bad \ud800 answer"))
    cache.close()
    by_case, _ = assert_finished(run_cli("test", "--replay"), root)
    assert by_case["crash"]["output"] == "bad \ufffd answer"


def test_golden_similarity_of_long_answers_is_bounded() -> None:
    """difflib compared two 20,000-character texts for three minutes; long texts go by words."""
    long_a = " ".join(f"word{i % 997}" for i in range(40_000))
    long_b = " ".join(f"word{i % 991}" for i in range(40_000))
    assert 0.0 < text_similarity(long_a, long_b) <= 1.0
    assert text_similarity(long_a, long_a.upper()) == 1.0
    assert text_similarity("the cat sat", "the cat sat down") == pytest.approx(0.815, abs=0.01)
