"""Prompt versions from git: history, ``name@version`` / ``name@ref`` resolution, version-bump lint.

A prompt reference is ``support/triage`` (the working tree),
``support/triage@1.1.0`` (the newest commit whose front matter declared 1.1.0)
or ``support/triage@origin/main`` (the prompt as it is at a git ref).
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from promptops.config import Project
from promptops.errors import PromptError, PromptOpsError, UsageError
from promptops.prompts import (
    PROMPT_SUFFIX,
    Prompt,
    PromptSource,
    load_prompt,
    project_source,
    semver_key,
    split_front_matter,
    template_name_problem,
)
from promptops.sandbox import DEFAULT_MAX_OUTPUT_BYTES
from promptops.strict import DocumentedModel

if TYPE_CHECKING:
    import git

_GIT_SYMLINK = 0o120000
_MAX_SYMLINKS = 8
_SEMVER_LIKE = re.compile(r"^v?\d+\.\d+\.\d+([-+].*)?$")


def open_repo(project: Project) -> git.Repo:
    """The git repository holding the project; a clear error when there is none."""
    import git

    try:
        return git.Repo(project.root, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise UsageError(
            f"{project.root} is not inside a git repository; prompt versions come from git history "
            "(run 'git init' and commit your prompts)"
        ) from None


def _repo_path(repo: git.Repo, path: Path) -> str:
    """``path`` relative to the repository's working tree, in git's / form."""
    return PurePosixPath(path.resolve().relative_to(Path(repo.working_tree_dir or ".").resolve())).as_posix()


class GitSource(PromptSource):
    """Prompt files as they are in one commit."""

    def __init__(
        self,
        repo: git.Repo,
        commit: git.Commit,
        prompts_dir: str,
        label: str,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
    ) -> None:
        self.repo = repo
        self.commit = commit
        self.prompts_dir = prompts_dir.rstrip("/")
        self.label = label
        self.max_output_bytes = max_output_bytes

    def _blob_path(self, name: str) -> str:
        return f"{self.prompts_dir}/{name}" if self.prompts_dir not in ("", ".") else name

    def _follow(self, name: str) -> tuple[Any, str | None]:
        """The blob ``name`` stands for, following symlinks inside the folder, or why it is outside."""
        path = name
        for _ in range(_MAX_SYMLINKS):
            problem = template_name_problem(path)
            if problem is not None:
                return (
                    None,
                    problem if path == name else "is a symbolic link to a file outside the prompts folder",
                )
            try:
                blob = self.commit.tree / self._blob_path(path)
            except KeyError:
                return None, None
            if blob.mode != _GIT_SYMLINK:
                return blob, None
            target = blob.data_stream.read().decode("utf-8", "replace")
            path = posixpath.normpath(posixpath.join(posixpath.dirname(path), target))
        return None, "is a chain of symbolic links too long to follow"

    def outside(self, name: str) -> str | None:
        return self._follow(name)[1]

    def read(self, name: str) -> str | None:
        blob, problem = self._follow(name)
        if problem is not None:
            raise PromptError(f"template {name!r} {problem}", file=self.display(name))
        if blob is None:
            return None
        data = blob.data_stream.read()
        try:
            return str(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise PromptError("prompt file is not UTF-8", file=self.display(name)) from None

    def names(self) -> list[str]:
        try:
            tree = (
                self.commit.tree / self.prompts_dir if self.prompts_dir not in ("", ".") else self.commit.tree
            )
        except KeyError:
            return []
        prefix = len(self.prompts_dir) + 1 if self.prompts_dir not in ("", ".") else 0
        paths = (
            str(getattr(item, "path", "")) for item in tree.traverse() if getattr(item, "type", "") == "blob"
        )
        return sorted(path[prefix:] for path in paths if path.endswith(PROMPT_SUFFIX))

    def display(self, name: str) -> str:
        return f"{self._blob_path(name)}@{self.label}"


def source_at_ref(project: Project, ref: str) -> GitSource:
    """The project's prompts folder as it is at git ``ref`` (branch, tag, commit, origin/main ...)."""
    import git

    repo = open_repo(project)
    try:
        commit = repo.commit(ref)
    except (git.BadName, ValueError, git.GitCommandError):
        raise UsageError(
            f"unknown git ref {ref!r}: not a branch, tag or commit of {repo.working_tree_dir}"
        ) from None
    return GitSource(
        repo, commit, _repo_path(repo, project.prompts_dir), ref, project.config.render.max_output_bytes
    )


@dataclass(frozen=True)
class PromptRevision:
    """One commit that changed a prompt file."""

    commit: str
    version: str | None
    """Version declared in that commit's front matter (None when unreadable)."""
    fingerprint: str | None
    date: datetime
    author: str
    subject: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit,
            "version": self.version,
            "fingerprint": self.fingerprint,
            "date": self.date.isoformat(),
            "author": self.author,
            "subject": self.subject,
        }


def prompt_history(project: Project, name: str) -> list[PromptRevision]:
    """Commits that changed prompt ``name``, newest first."""
    repo = open_repo(project)
    prompts_rel = _repo_path(repo, project.prompts_dir)
    relpath = name if name.endswith(PROMPT_SUFFIX) else name + PROMPT_SUFFIX
    path = f"{prompts_rel}/{relpath}" if prompts_rel not in ("", ".") else relpath
    try:
        commits = list(repo.iter_commits(paths=path))
    except ValueError:  # a repository with no commits yet
        commits = []
    revisions = []
    for commit in commits:
        source = GitSource(repo, commit, prompts_rel, commit.hexsha[:10])
        version: str | None = None
        fingerprint: str | None = None
        try:
            prompt = load_prompt(source, name)
            version, fingerprint = prompt.version, prompt.fingerprint
        except PromptOpsError:
            text = source.read(relpath)
            if text is None:
                continue  # the commit deleted the file
            version = _declared_version(text)
        revisions.append(
            PromptRevision(
                commit=commit.hexsha,
                version=version,
                fingerprint=fingerprint,
                date=datetime.fromtimestamp(commit.committed_date, tz=timezone.utc),
                author=str(commit.author.name),
                subject=str(commit.summary),
            )
        )
    return revisions


def _declared_version(text: str) -> str | None:
    import yaml

    from promptops.locations import safe_yaml_value

    split = split_front_matter(text)
    if split.front_matter is None:
        return None
    try:
        data = safe_yaml_value(split.front_matter)  # bounded: history may hold an alias bomb
    except yaml.YAMLError:
        return None
    return str(data.get("version")) if isinstance(data, dict) and "version" in data else None


def parse_prompt_ref(text: str) -> tuple[str, str | None]:
    """``name@spec`` -> (name, spec); ``name`` -> (name, None)."""
    name, sep, spec = text.partition("@")
    if not name:
        raise UsageError(f"invalid prompt reference {text!r}: expected NAME, NAME@VERSION or NAME@REF")
    if sep and not spec:
        raise UsageError(f"invalid prompt reference {text!r}: nothing after '@'")
    return name, spec or None


def resolve_prompt(project: Project, reference: str) -> Prompt:
    """Load a prompt from a reference: working tree, ``@version`` or ``@git-ref``."""
    name, spec = parse_prompt_ref(reference)
    if spec is None:
        return load_prompt(project_source(project), name)
    if _SEMVER_LIKE.match(spec):
        return _prompt_at_version(project, name, spec.lstrip("v"))
    return load_prompt(source_at_ref(project, spec), name)


def _prompt_at_version(project: Project, name: str, version: str) -> Prompt:
    history = prompt_history(project, name)
    if not history:
        raise UsageError(f"prompt {name!r} has no committed history; commit it before referring to versions")
    for revision in history:
        if revision.version == version:
            repo = open_repo(project)
            source = GitSource(
                repo,
                repo.commit(revision.commit),
                _repo_path(repo, project.prompts_dir),
                version,
                project.config.render.max_output_bytes,
            )
            return load_prompt(source, name)
    known = sorted({r.version for r in history if r.version}, key=_safe_semver_key)
    raise UsageError(
        f"prompt {name!r} never declared version {version}; committed versions: {', '.join(known)}"
    )


def _safe_semver_key(version: str) -> tuple[Any, ...]:
    try:
        return semver_key(version)
    except ValueError:
        return (-1, -1, -1, 0, ((1, version),))


@dataclass(frozen=True)
class VersionFinding:
    """A version-bump problem of one prompt against a base ref."""

    level: str
    """``error`` or ``warning``."""
    prompt: str
    file: str
    line: int | None
    message: str


def check_version_bumps(project: Project, base_ref: str) -> list[VersionFinding]:
    """Prompts whose text changed since ``base_ref`` must declare a higher semver; lower is an error."""
    base = source_at_ref(project, base_ref)
    here = project_source(project)
    from promptops.prompts import iter_prompt_names

    findings = []
    for name in iter_prompt_names(here):
        try:
            current = load_prompt(here, name)
        except PromptOpsError:
            continue  # reported by the prompt checks
        try:
            old = load_prompt(base, name)
        except PromptOpsError:
            continue  # new at this ref, or unreadable there: nothing to compare with
        if current.fingerprint == old.fingerprint:
            continue
        new_key, old_key = semver_key(current.version), semver_key(old.version)
        if new_key < old_key:
            findings.append(
                VersionFinding(
                    "error",
                    name,
                    current.file,
                    2,
                    f"version {current.version} is lower than {old.version} at {base_ref}",
                )
            )
        elif new_key == old_key:
            findings.append(
                VersionFinding(
                    "error",
                    name,
                    current.file,
                    2,
                    f"prompt text changed since {base_ref} but version is still {current.version}; "
                    "bump it (patch for wording, minor for behaviour, major for inputs)",
                )
            )
    return findings


def read_at_ref(project: Project, ref: str, path: Path) -> str | None:
    """Text of a project file as it is at git ``ref``, or None when it does not exist there."""
    source = source_at_ref(project, ref)
    repo_path = _repo_path(source.repo, path)
    try:
        blob = source.commit.tree / repo_path
    except KeyError:
        return None
    return str(blob.data_stream.read().decode("utf-8", errors="replace"))


_MAX_PROMPT_DIFF_CHARS = 12_000
"""A prompt diff longer than this is cut: the full text is one `promptops diff` away."""


class PromptChange(DocumentedModel):
    """A prompt whose text differs between a base git ref and the working tree."""

    prompt: str
    """Prompt name (path under the prompts folder without ``.j2``)."""
    file: str
    """Prompt file, relative to the project root."""
    baseline_version: str | None
    """Declared version at the base ref; None when the prompt is new."""
    candidate_version: str
    """Declared version in the working tree."""
    baseline_fingerprint: str | None
    candidate_fingerprint: str
    diff: str
    """Unified diff of the prompt file and the partials it includes, base → working tree."""
    truncated: bool = False
    """The diff was cut at a size a pull-request comment can hold."""


def prompt_changes(project: Project, base_ref: str, names: Iterable[str]) -> list[PromptChange]:
    """Versions and a unified diff (the prompt file and its partials) of each prompt changed since a ref.

    A prompt that cannot be loaded on one side is left out: lint and the run report that problem.
    """
    base = source_at_ref(project, base_ref)
    here = project_source(project)
    prefix = project.relpath(project.prompts_dir).rstrip("/")
    changes: list[PromptChange] = []
    for name in dict.fromkeys(names):
        try:
            current = load_prompt(here, name)
        except PromptOpsError:
            continue
        try:
            old: Prompt | None = load_prompt(base, name)
        except PromptOpsError:
            old = None
        if old is not None and old.fingerprint == current.fingerprint:
            continue
        files = [current.relpath, *sorted(set(current.includes) | set(old.includes if old else []))]
        parts: list[str] = []
        for relpath in files:
            before, after = base.read(relpath) or "", here.read(relpath) or ""
            parts.extend(
                difflib.unified_diff(
                    before.splitlines(keepends=True),
                    after.splitlines(keepends=True),
                    fromfile=f"a/{prefix}/{relpath}@{base_ref}",
                    tofile=f"b/{prefix}/{relpath}",
                )
            )
        diff = "".join(line if line.endswith("\n") else line + "\n" for line in parts)
        truncated = len(diff) > _MAX_PROMPT_DIFF_CHARS
        if truncated:
            diff = diff[: diff.rfind("\n", 0, _MAX_PROMPT_DIFF_CHARS) + 1]
        changes.append(
            PromptChange(
                prompt=name,
                file=f"{prefix}/{current.relpath}",
                baseline_version=old.version if old else None,
                candidate_version=current.version,
                baseline_fingerprint=old.fingerprint if old else None,
                candidate_fingerprint=current.fingerprint,
                diff=diff,
                truncated=truncated,
            )
        )
    return changes
