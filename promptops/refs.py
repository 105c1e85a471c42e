"""Runs at a git base ref: the suites with their prompts as committed at a ref, next to the working tree.

``promptops test --base-ref REF`` runs both sides so drift can tell what a
prompt change did; with ``--replay`` the base side answers from the recordings
committed at the ref, so a keyless CI run needs no provider.
"""

from __future__ import annotations

from typing import Any

from promptops.cache import RecordingFile, recording_path
from promptops.config import Project
from promptops.errors import UsageError
from promptops.locations import load_yaml
from promptops.plan import Plan, RunOptions, build_plan
from promptops.suites import Suite, load_suites, load_suites_at
from promptops.versions import read_at_ref, source_at_ref


def plans_against_ref(
    project: Project, suite_args: tuple[str, ...], options: RunOptions, base_ref: str
) -> tuple[Plan | None, Plan]:
    """The plans of both sides: the suites with prompts at git ``base_ref`` (None when no suite's prompt
    exists there) and at the working tree. Both are built before either runs, so a mistake on either
    side costs no model calls."""
    base_suites = load_suites_at(project, source_at_ref(project, base_ref), suite_args)
    candidate_plan = build_plan(project, load_suites(project, suite_args), options)
    base_plan = None
    probe = Plan(project, base_suites, options)
    if any(probe.selected_cases(suite) for suite in base_suites):
        base_plan = build_plan(project, base_suites, options)
        if options.replay:
            base_plan.extra_recordings = _recordings_at_ref(project, base_suites, base_ref)
    return base_plan, candidate_plan


def _recordings_at_ref(project: Project, suites: list[Suite], ref: str) -> list[Any]:
    """The suites' recording files as committed at ``ref``: the base side of a keyless --base-ref run."""
    found = []
    for suite in suites:
        path = recording_path(suite.path)
        text = read_at_ref(project, ref, path)
        if text is None:
            continue
        data = load_yaml(text, file=f"{project.relpath(path)}@{ref}", error=UsageError)
        try:
            found.append(RecordingFile.model_validate(data))
        except ValueError:
            continue  # an older, incompatible recording simply gives replay misses
    return found
