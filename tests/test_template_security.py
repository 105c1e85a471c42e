"""A template reads only files inside prompts/, and its rendering is bounded in time, memory and size.

Each row is one way a prompt file (say, from a pull request) could read a file on the
machine or exhaust it. Through ``render`` and ``test`` each must exit 2 with one message
naming the prompt's file and line, send nothing to the provider, and never hang (the
pytest timeout catches a hang; speed and memory figures come from
``benchmarks/render_limits.py``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import Result
from fake_openai import FakeOpenAIServer

PROMPT = "prompts/support/triage.j2"
SECRET = "TOP-SECRET-CONTENT-OUTSIDE-THE-PROJECT"


def prompt_with(body: str) -> str:
    """The triage prompt with ``body`` on line 7, inside its user message."""
    return f"""\
---
version: 1.0.0
inputs:
  ticket: {{required: true}}
  where: {{default: /etc/passwd}}
---
{{% role "user" %}}{{{{ ticket }}}} {body}{{% endrole %}}
"""


def assert_refused(result: Result, where: str, fragment: str) -> None:
    """Exit 2, one ``error:`` line starting with ``where``, no traceback, nothing leaked."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"error: {where}: "), result.output
    assert fragment in errors[0], result.output
    assert SECRET not in result.output
    assert "root:" not in result.output


@pytest.fixture
def outside_file(tmp_path: Path) -> Path:
    """A file next to (not inside) the project, holding a secret."""
    path = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


READS = [
    pytest.param('{% include "/etc/passwd" %}', "is an absolute path", id="include-absolute"),
    pytest.param(
        '{% include "../../../../../../etc/passwd" %}', "steps out of the prompts folder", id="dotdot"
    ),
    pytest.param(
        '{% include "_partials/../../promptops.yaml" %}', "steps out of the prompts folder", id="dotdot-mid"
    ),
    pytest.param("{% include where %}", "is an absolute path", id="include-variable"),
    pytest.param(
        '{% include ["/etc/passwd", "_partials/tone.j2"] %}', "is an absolute path", id="include-list"
    ),
    pytest.param('{% import "/etc/passwd" as x %}', "is an absolute path", id="import"),
    pytest.param('{% from "/etc/passwd" import x %}', "is an absolute path", id="from-import"),
    pytest.param('{% include "_partials/leak.j2" %}', "symbolic link to a file outside", id="symlink-out"),
]


@pytest.mark.parametrize(("body", "fragment"), READS)
@pytest.mark.parametrize("command", ["render", "test"])
def test_template_cannot_read_outside_prompts(
    make_project,
    run_cli,
    fake_server: FakeOpenAIServer,
    outside_file: Path,
    command: str,
    body: str,
    fragment: str,
) -> None:
    root = make_project({PROMPT: prompt_with(body)})
    (root / "prompts/_partials/leak.j2").symlink_to(outside_file)
    args = ["render", "support/triage", "--var", "ticket=hi"] if command == "render" else ["test"]
    assert_refused(run_cli(*args), f"{PROMPT}:7", fragment)
    assert fake_server.state.requests == []


def test_extends_outside_prompts(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    make_project({PROMPT: "---\nversion: 1.0.0\n---\n{% extends '/etc/passwd' %}\n"})
    assert_refused(run_cli("render", "support/triage"), f"{PROMPT}:4", "is an absolute path")
    assert_refused(run_cli("test"), f"{PROMPT}:4", "is an absolute path")
    assert fake_server.state.requests == []


def test_lint_reports_reads_outside_prompts(make_project, run_cli, outside_file: Path) -> None:
    root = make_project({PROMPT: prompt_with('{% include "_partials/leak.j2" %}')})
    (root / "prompts/_partials/leak.j2").symlink_to(outside_file)
    (root / "prompts/_partials/tone.j2").write_text('{% extends "../../x" %}\n', encoding="utf-8")
    result = run_cli("lint")
    assert result.exit_code == 1, result.output
    assert f"{PROMPT}:7: error: template '_partials/leak.j2' is a symbolic link" in result.output
    assert SECRET not in result.output


def test_links_and_includes_inside_prompts_still_work(make_project, run_cli) -> None:
    root = make_project({PROMPT: prompt_with('{% include "_partials/alias.j2" %}')})
    (root / "prompts/_partials/alias.j2").symlink_to(root / "prompts/_partials/tone.j2")
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    assert result.exit_code == 0, result.output
    assert "hi Be brief and polite." in result.output


def test_a_suite_cannot_name_a_prompt_outside_prompts(make_project, run_cli, outside_file: Path) -> None:
    make_project({"suites/triage.yaml": f"prompt: ../../{outside_file.name}\ncases: [{{id: a}}]\n"})
    result = run_cli("test")
    assert result.exit_code == 2, result.output
    assert "steps out of the prompts folder" in result.output
    assert SECRET not in result.output


def test_a_symlink_committed_to_git_is_followed_only_inside_prompts(
    make_project, run_cli, outside_file: Path
) -> None:
    root = make_project({PROMPT: prompt_with('{% include "_partials/leak.j2" %}')})
    (root / "prompts/_partials/leak.j2").symlink_to(f"../../../{outside_file.name}")
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *command], cwd=root, check=True)
    result = run_cli("render", "support/triage@HEAD", "--var", "ticket=hi")
    assert result.exit_code == 2, result.output
    assert "symbolic link to a file outside the prompts folder" in result.output
    assert SECRET not in result.output


# --- bounded rendering --------------------------------------------------------------------------

NESTED_IFS = "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000

BOUNDS = [
    pytest.param(
        "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
        "steps",
        id="nested-range-loops",
    ),
    pytest.param("{{ lipsum(10**6) }}", "lipsum is limited", id="lipsum"),
    pytest.param("{{ 9 ** 999999999 }}", "the power ** would make a number", id="power"),
    pytest.param('{{ "a" * 10**9 }}', "the repetition would be 1,000,000,000 long", id="string-repetition"),
    pytest.param("{{ ([1] * 10**9) | length }}", "the repetition would be", id="list-repetition"),
    pytest.param('{{ "a" | center(10**9) }}', "too large for a width or count", id="filter-width"),
    pytest.param('{{ "%1000000000d" % 1 }}', "too large for a width or count", id="printf-width"),
    pytest.param('{{ "{:1000000000}".format(1) }}', "too large for a width or count", id="format-width"),
    pytest.param(
        '{% set ns = namespace(s="a" * 1000) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}{{ ns.s | length }}",
        "a text of length 1,024,000 is over the render limit",
        id="doubling-concat",
    ),
    pytest.param(
        "{% set xs = [1] %}{% for i in range(40) %}{{ xs.extend(xs) }}{% endfor %}",
        "a list of length 1,048,576",
        id="list-grown-in-place",
    ),
    pytest.param('{{ (["a" * 1000000] * 1000) | join }}', "the joined text would be", id="join"),
    pytest.param('{% set s = "a" * 1000000 %}{{ s | replace("a", s) }}', "the replaced text", id="replace"),
    pytest.param(
        '{% for i in range(100000) %}{{ "a" * 1000 }}{% endfor %}',
        "render.max_output_bytes",
        id="output-size",
    ),
    pytest.param(
        "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
        "recursion too deep",
        id="macro-recursion",
    ),
]


@pytest.mark.parametrize(("body", "fragment"), BOUNDS)
@pytest.mark.parametrize("command", ["render", "test"])
def test_rendering_is_bounded(
    make_project, run_cli, fake_server: FakeOpenAIServer, command: str, body: str, fragment: str
) -> None:
    make_project({PROMPT: prompt_with(body)})
    args = ["render", "support/triage", "--var", "ticket=hi"] if command == "render" else ["test"]
    assert_refused(run_cli(*args), f"{PROMPT}:7", fragment)
    assert fake_server.state.requests == []


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        pytest.param(NESTED_IFS, "blocks are nested more than 30 deep", id="if-2000-deep"),
        pytest.param("{{ " + "(" * 2000 + "1" + ")" * 2000 + " }}", "brackets are nested", id="brackets"),
        pytest.param("{{ " + "not " * 3000 + "true }}", "nested too deeply to compile", id="not-chain"),
        pytest.param("{{ ticket" + ".a" * 5000 + " }}", "nested too deeply to compile", id="attribute-chain"),
    ],
)
@pytest.mark.parametrize("command", ["render", "test", "lint"])
def test_deep_nesting_is_a_clear_error(make_project, run_cli, command: str, body: str, fragment: str) -> None:
    make_project({PROMPT: prompt_with(body)})
    args = {"render": ["render", "support/triage", "--var", "ticket=hi"], "test": ["test"], "lint": ["lint"]}
    result = run_cli(*args[command])
    if command == "lint":
        assert result.exit_code == 1, result.output
        assert f"{PROMPT}:7: error: " in result.output and fragment in result.output
        assert "Traceback" not in result.output
    else:
        assert_refused(result, f"{PROMPT}:7", fragment)


def test_lint_does_not_fold_huge_constants(make_project, run_cli) -> None:
    """Compiling used to evaluate ``9 ** 999999999`` (constant folding): lint hung. Lint does not render,
    so reproducers that only fail when rendered pass lint quickly (and fail ``render`` and ``test``)."""
    body = (
        '{{ 9 ** 999999999 }}{{ "a" * 10**9 }}{{ where }}{{ lipsum(10**6) }}'
        "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}"
    )
    make_project({PROMPT: prompt_with(body)})
    result = run_cli("lint")
    assert result.exit_code == 0, result.output
    assert "0 errors" in result.output


def test_output_limit_is_configurable(make_project, run_cli, fake_server: FakeOpenAIServer) -> None:
    from conftest import config_text

    small = config_text(fake_server.api_base, "render: {max_output_bytes: 200}\n")
    make_project({PROMPT: prompt_with("{% for i in range(30) %}xxxxxxxxxx{% endfor %}")}, config=small)
    assert_refused(
        run_cli("render", "support/triage", "--var", "ticket=hi"),
        f"{PROMPT}:7",
        "over the render limit of 200 (render.max_output_bytes in promptops.yaml)",
    )
    # text outside role blocks is one user message, checked once rendered
    make_project({PROMPT: "---\nversion: 1.0.0\n---\n" + "y" * 250 + "\n"}, config=small)
    assert_refused(
        run_cli("render", "support/triage"),
        PROMPT,
        "bytes, over the limit of 200 (render.max_output_bytes",
    )
    # the default limit (1 MB) lets the same prompt render
    make_project({PROMPT: prompt_with("{% for i in range(30) %}xxxxxxxxxx{% endfor %}")})
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    assert result.exit_code == 0 and "hi " + "x" * 300 in result.output


def test_ordinary_templates_render_as_before(make_project, run_cli) -> None:
    body = (
        "{% set ns = namespace(n=0) %}{% for label in ['a', 'b'] * 3 if label != 'b' %}"
        "{% set ns.n = ns.n + loop.index %}{{ label ~ loop.index }},{% endfor %} {{ ns.n }} {{ 2 ** 10 }} "
        "{{ '%05d' % 42 }} {{ '{:>4}'.format('x') }} {{ 'ab' | replace('a', 'z') }} {{ [1, 2] | join('-') }}"
    )
    make_project({PROMPT: prompt_with(body)})
    result = run_cli("render", "support/triage", "--var", "ticket=hi")
    assert result.exit_code == 0, result.output
    assert "hi a1,a2,a3, 6 1024 00042    x zb 1-2" in result.output


def test_a_prompt_file_linked_outside_is_refused(make_project, run_cli, outside_file: Path) -> None:
    root = make_project()
    (root / "prompts" / "leak.j2").symlink_to(outside_file)
    result = run_cli("render", "leak")
    assert result.exit_code == 2, result.output
    assert "prompt name 'leak' is a symbolic link to a file outside the prompts folder" in result.output
    assert SECRET not in result.output
    linted = run_cli("lint")
    assert linted.exit_code == 1 and "symbolic link to a file outside" in linted.output
    assert SECRET not in linted.output
