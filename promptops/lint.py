"""``promptops lint``: every check that needs no model call, reported together.

Config, prompt and suite validation; variables used but never declared and
inputs declared but never used; duplicate names; prompts with no suite
(coverage); and, against a base git ref, prompts changed without a version bump.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from promptops.config import Project
from promptops.errors import PromptOpsError, UsageError
from promptops.locations import LineDict, load_yaml, read_json_model
from promptops.prompts import Prompt, iter_prompt_names, load_prompt, project_source, split_front_matter
from promptops.strict import DocumentedModel

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    level: Level
    file: str | None
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.file and self.line else (self.file or "")
        return f"{where}: {self.level}: {self.message}" if where else f"{self.level}: {self.message}"


def _from_error(exc: PromptOpsError) -> Finding:
    return Finding("error", exc.file, exc.line, exc.message)


def _used_variables(prompt: Prompt) -> set[str]:
    """Variables read by the template and by every partial it includes (they share its context)."""
    from jinja2 import meta

    used = set(prompt.used_variables())
    env = prompt.environment
    assert env.loader is not None
    for include in prompt.includes:
        text, _, _ = env.loader.get_source(env, include)
        used |= set(meta.find_undeclared_variables(env.parse(text)))
    return used


def _input_lines(prompt: Prompt) -> dict[str, int]:
    split = split_front_matter(prompt.source.read(prompt.relpath) or "")
    if split.front_matter is None:
        return {}
    data = load_yaml(split.front_matter, file=prompt.file, error=PromptOpsError, line_offset=1)
    inputs = data.get("inputs") if isinstance(data, LineDict) else None
    return dict(inputs.key_lines) if isinstance(inputs, LineDict) else {}


def check_prompt_variables(prompt: Prompt) -> list[Finding]:
    findings = []
    declared = set(prompt.front_matter.inputs)
    used = _used_variables(prompt)
    lines = _input_lines(prompt)
    for name in sorted(used - declared):
        findings.append(
            Finding(
                "error",
                prompt.file,
                None,
                f"prompt {prompt.name} uses variable {name!r} but does not declare it under inputs",
            )
        )
    for name in sorted(declared - used):
        findings.append(
            Finding(
                "warning",
                prompt.file,
                lines.get(name),
                f"prompt {prompt.name} declares input {name!r} but never uses it",
            )
        )
    return findings


def lint_project(project: Project, base_ref: str | None = None) -> list[Finding]:
    """All findings for ``project``; errors first in file order, then warnings."""
    from promptops.suites import discover_suites, load_suite, suite_name

    findings: list[Finding] = []
    source = project_source(project)
    prompts: dict[str, Prompt] = {}
    names = list(iter_prompt_names(source))
    for name, count in Counter(n.lower() for n in names).items():
        if count > 1:
            clash = [n for n in names if n.lower() == name]
            findings.append(
                Finding(
                    "error",
                    project.config.prompts,
                    None,
                    f"prompt names differ only in case: {', '.join(clash)}",
                )
            )
    for name in names:
        try:
            prompts[name] = load_prompt(source, name)
        except PromptOpsError as exc:
            findings.append(_from_error(exc))
            continue
        findings.extend(check_prompt_variables(prompts[name]))

    tested: set[str] = set()
    suite_paths: list[Path] = []
    try:
        suite_paths = discover_suites(project)
    except PromptOpsError as exc:
        findings.append(_from_error(exc))
    for name, count in Counter(suite_name(project, p) for p in suite_paths).items():
        if count > 1:
            findings.append(
                Finding(
                    "error",
                    project.config.suites,
                    None,
                    f"two suite files are both named {name!r} (.yaml and .yml?)",
                )
            )
    for path in suite_paths:
        try:
            suite = load_suite(project, path)
        except PromptOpsError as exc:
            findings.append(_from_error(exc))
            continue
        tested.add(suite.prompt.name)
    for name, prompt in prompts.items():
        if name not in tested:
            findings.append(Finding("warning", prompt.file, 1, f"prompt {name} has no suite (untested)"))

    if base_ref:
        from promptops.versions import check_version_bumps

        for item in check_version_bumps(project, base_ref):
            findings.append(
                Finding("error" if item.level == "error" else "warning", item.file, item.line, item.message)
            )
    findings.sort(key=lambda f: (f.level != "error", f.file or "", f.line or 0))
    return findings


LINT_SCHEMA_VERSION = 1


class LintFinding(DocumentedModel):
    """One lint finding as saved in a JSON lint report."""

    level: Level
    file: str | None = None
    """File relative to the project root."""
    line: int | None = None
    message: str


class LintReport(DocumentedModel):
    """``promptops lint --format json``: what the pull-request comment and annotations show."""

    version: int = LINT_SCHEMA_VERSION
    kind: Literal["lint"] = "lint"
    base_ref: str | None = None
    """The ref version bumps were checked against, if any."""
    errors: int
    warnings: int
    findings: list[LintFinding]

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0


def lint_report(findings: list[Finding], base_ref: str | None = None) -> LintReport:
    """The findings of ``lint_project`` as a saved report."""
    errors = sum(f.level == "error" for f in findings)
    return LintReport(
        base_ref=base_ref,
        errors=errors,
        warnings=len(findings) - errors,
        findings=[LintFinding(level=f.level, file=f.file, line=f.line, message=f.message) for f in findings],
    )


def load_lint_report(path: Path) -> LintReport:
    """A JSON lint report written by ``promptops lint --format json``; exit 2 when it is not one."""
    return read_json_model(path, LintReport, file=path, error=UsageError)
