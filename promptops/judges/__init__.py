"""Judge prompts: versioned templates the model-graded assertion types render.

Each type's prompt ships here as ``<type>.j2`` (front matter with a version,
like any prompt, so its fingerprint identifies the exact judge text used). A
project overrides one by adding ``prompts/_judges/<type>.j2``; the leading
underscore keeps it out of the project's own prompt list. A template receives
the variables its front matter declares among those the type offers (see
docs/assertions.md), plus ``vars``, the case's variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptops.prompts import FolderSource, Prompt, PromptSource, load_prompt

BUILTIN_FOLDER = Path(__file__).parent
OVERRIDE_FOLDER = "_judges"


def judge_template_names() -> list[str]:
    """Types that ship a judge prompt."""
    return sorted(p.stem for p in BUILTIN_FOLDER.glob("*.j2"))


def load_judge_prompt(name: str, prompts_dir: Path | None = None, display_root: Path | None = None) -> Prompt:
    """The project's ``_judges/<name>.j2`` when it has one, else the built-in judge prompt."""
    source: PromptSource
    if prompts_dir is not None:
        project = FolderSource(prompts_dir, display_root)
        relpath = f"{OVERRIDE_FOLDER}/{name}"
        if project.read(relpath + ".j2") is not None:
            return load_prompt(project, relpath)
    source = FolderSource(BUILTIN_FOLDER, BUILTIN_FOLDER.parent.parent)
    return load_prompt(source, name)


def render_judge(prompt: Prompt, variables: dict[str, Any]) -> list[dict[str, str]]:
    """The judge's chat messages: only the variables the template declares are passed."""
    declared = prompt.front_matter.input_specs()
    return [m.to_dict() for m in prompt.render({k: v for k, v in variables.items() if k in declared})]
