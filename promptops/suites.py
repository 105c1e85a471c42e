"""Suite files: cases, variables, assertions, and their validation.

Every mistake in a suite (unknown key, unknown assertion type, bad regex,
missing prompt, undeclared or missing variable, unknown model) is reported as
one ``SuiteError`` naming the file and line.
"""

from __future__ import annotations

import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from promptops.assertions import AssertionSpec, GapType, validate_assertion
from promptops.case_files import CaseOrigin, expand_cases
from promptops.config import Project
from promptops.errors import ConfigError, PromptError, SuiteError, UsageError
from promptops.locations import (
    LineDict,
    LinesOnDemand,
    describe_validation_error,
    gc_paused,
    line_of,
    parse_yaml_model,
    plain,
    read_yaml_model,
    read_yaml_text,
    write_readable_yaml,
)
from promptops.prompts import Prompt, PromptSource, load_prompt, project_source
from promptops.strict import StrictModel

SUITE_SUFFIXES = (".yaml", ".yml")
GOLDEN_SUFFIX = ".golden.yaml"
CASES_SUFFIX = ".cases.yaml"
"""YAML case files in the suites folder carry this suffix, so they are not taken for suites."""
_NOT_SUITES = (GOLDEN_SUFFIX, ".golden.yml", ".recording.yaml", ".recording.yml", CASES_SUFFIX, ".cases.yml")


class CaseDefaults(StrictModel):
    model_config = ConfigDict(populate_by_name=True)  # ``assert`` in YAML, ``assert_`` in Python

    vars: dict[str, Any] = Field(default_factory=dict)
    """Variables every case starts from."""
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    """Assertions added to every case."""


class Case(StrictModel):
    """One test case: variables for the prompt and what its output must satisfy."""

    # ``assert`` in YAML, ``assert_`` in Python; frozen, so that cases can share their unchanging parts
    # (``_compact``): a large suite holds 100,000s of them
    model_config = ConfigDict(populate_by_name=True, frozen=True)

    id: str
    """Unique within the suite; used in reports, filters and golden files."""
    description: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    gap: GapType | None = None
    """What a failure of this case reveals: knowledge, behavior, skill or reliability."""
    reference: str | None = None
    """The right answer, or the facts it rests on: diagnosis checks whether the prompt holds it."""
    assert_: list[AssertionSpec] = Field(default_factory=list, alias="assert")
    repeat: int | None = Field(default=None, ge=1)
    """Samples per model for this case; overrides the suite's repeat."""
    threshold: float | None = Field(default=None, ge=0, le=1)
    """Required pass rate across samples; overrides the suite's threshold."""
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    """Free-form facts about the case (source, category ...), kept with its results."""

    @field_validator("vars", "metadata", mode="before")
    @classmethod
    def _plain_vars(cls, value: Any) -> Any:
        return plain(value)

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> str:
        text = str(value).strip()
        if not text:
            raise ValueError("case id cannot be empty")
        return text


class SuiteFile(StrictModel):
    """The contents of a suite YAML file."""

    version: Literal[1] = 1
    """Schema version of this file."""
    prompt: str
    """Prompt name, e.g. ``support/triage`` (the file prompts/support/triage.j2)."""
    description: str | None = None
    models: list[str] | None = None
    """Model aliases or litellm ids; default: the prompt's model, else defaults.model."""
    repeat: int | None = Field(default=None, ge=1)
    threshold: float = Field(default=1.0, ge=0, le=1)
    """Required pass rate of a case across its samples."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Call parameters for this suite, over the prompt's."""
    judge: str | None = None
    """Judge model (alias or litellm id) for this suite's model-graded assertions."""
    embedding: str | None = None
    """Embedding model for this suite's ``similar`` and ``answer-relevance`` assertions."""
    defaults: CaseDefaults = Field(default_factory=CaseDefaults)
    cases: list[Case] = Field(min_length=1)
    """The cases, inline, or ``file://`` references to CSV, JSONL, JSON or YAML case files."""


class GoldenOutput(StrictModel):
    """An accepted output for one case and model alias."""

    case: str
    model: str
    """Model alias the output was accepted for."""
    model_id: str
    prompt_version: str
    prompt_fingerprint: str
    output: str


class GoldenFile(StrictModel):
    """``suites/<suite>.golden.yaml``: written only by ``promptops golden update``."""

    version: Literal[1] = 1
    suite: str
    goldens: list[GoldenOutput] = Field(default_factory=list)


def companion_path(suite_path: Path, suffix: str) -> Path:
    """A file that belongs to a suite: ``suites/triage.yaml`` -> ``suites/triage<suffix>``."""
    return suite_path.with_name(_strip_suite_suffix(suite_path.name) + suffix)


def _strip_suite_suffix(name: str) -> str:
    for suffix in SUITE_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def golden_path(suite_path: Path) -> Path:
    return companion_path(suite_path, GOLDEN_SUFFIX)


def read_golden(path: Path, display: str) -> GoldenFile | None:
    """A golden file, or None when the suite has none yet."""
    return read_yaml_model(path, GoldenFile, file=display, error=SuiteError)


def write_golden(path: Path, golden: GoldenFile, case_order: list[str]) -> None:
    """Write ``golden`` in suite order, multi-line outputs as ``|`` blocks for readable PR diffs."""
    position = {case: index for index, case in enumerate(case_order)}
    golden.goldens.sort(key=lambda g: (position.get(g.case, len(position)), g.case, g.model))
    write_readable_yaml(path, golden.model_dump())


@dataclass
class Suite:
    """A validated suite with its prompt loaded."""

    name: str
    path: Path
    file: str
    """Path for messages, relative to the project root."""
    spec: SuiteFile
    prompt: Prompt
    case_lines: dict[str, int]
    goldens: dict[tuple[str, str], GoldenOutput] = field(default_factory=dict)
    """Accepted outputs by (case id, model alias)."""

    def golden_for(self, case: str, model: str) -> str | None:
        entry = self.goldens.get((case, model))
        return entry.output if entry is not None else None

    @property
    def cases(self) -> list[Case]:
        return self.spec.cases

    def models(self, project: Project) -> list[str]:
        if self.spec.models:
            return list(self.spec.models)
        return [self.prompt.front_matter.model or project.config.defaults.model]

    def case_vars(self, case: Case) -> dict[str, Any]:
        return {**self.spec.defaults.vars, **case.vars}

    def case_assertions(self, case: Case) -> list[AssertionSpec]:
        return [*self.spec.defaults.assert_, *case.assert_]

    def repeat_for(self, case: Case, project: Project, override: int | None = None) -> int:
        return override or case.repeat or self.spec.repeat or project.config.defaults.repeat

    def threshold_for(self, case: Case) -> float:
        return case.threshold if case.threshold is not None else self.spec.threshold

    def params(self) -> dict[str, Any]:
        return {**self.prompt.front_matter.params, **self.spec.params}


def suite_name(project: Project, path: Path) -> str:
    try:
        rel = path.resolve().relative_to(project.suites_dir.resolve())
    except ValueError:
        rel = Path(path.name)
    return _strip_suite_suffix(rel.as_posix())


def is_suite_file(path: Path) -> bool:
    return path.suffix in SUITE_SUFFIXES and not path.name.endswith(_NOT_SUITES)


def discover_suites(project: Project, paths: list[str] | tuple[str, ...] = ()) -> list[Path]:
    """Suite files named by ``paths`` (files or folders), or all under the suites folder."""
    if not paths:
        if not project.suites_dir.is_dir():
            raise UsageError(
                f"suites folder {project.config.suites!r} does not exist", file=project.config_file
            )
        return sorted(p for p in project.suites_dir.rglob("*") if p.is_file() and is_suite_file(p))
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            candidate = project.suites_dir / raw
            for suffix in ("", *SUITE_SUFFIXES):
                if Path(str(candidate) + suffix).exists():
                    path = Path(str(candidate) + suffix)
                    break
            else:
                raise UsageError(f"no suite file or folder named {raw!r}")
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_suite_file(p)))
        else:
            found.append(path)
    unique: dict[Path, None] = {p.resolve(): None for p in found}
    return list(unique)


def _vars_problem(
    spec: SuiteFile, case: Case, origin: CaseOrigin, prompt: Prompt, data: Any, file: str
) -> SuiteError | None:
    """Why ``case``'s variables do not fit ``prompt``'s declared inputs, or None."""
    declared = prompt.front_matter.input_specs()
    merged = {**spec.defaults.vars, **case.vars}
    for var in merged:
        if var not in declared:
            names = ", ".join(sorted(declared)) or "none"
            message = (
                f"case {case.id!r}: variable {var!r} is not an input of prompt {prompt.name} "
                f"(declared: {names})"
            )
            if var in case.vars:
                return SuiteError(
                    message, file=origin.file, line=line_of(origin.data, (*origin.path, "vars", var))
                )
            return SuiteError(message, file=file, line=line_of(data, ("defaults", "vars", var)))
    for name, input_spec in declared.items():
        if input_spec.is_required and name not in merged:
            return SuiteError(
                f"case {case.id!r}: required input {name!r} of prompt {prompt.name} has no value",
                file=origin.file,
                line=line_of(origin.data, origin.path),
            )
    return None


@functools.cache
def _case_list() -> TypeAdapter[list[Case]]:
    # one validator call for a suite's cases: several times cheaper than a call per case
    return TypeAdapter(list[Case])


@functools.cache
def _assertion_list() -> TypeAdapter[list[AssertionSpec]]:
    return TypeAdapter(list[AssertionSpec])


def _shared_assertions(raw_cases: list[Any], shared: dict[str, list[AssertionSpec] | None]) -> list[Any]:
    """The raw cases with equal ``assert`` lists validated once and shared (``shared``: by their text).

    Large suites repeat the same checks case after case: one list of ``AssertionSpec`` per distinct
    list keeps memory per case small and lets later stages check each spec once. A list that does
    not validate is left as written, for the case's own validation to report at its line.
    """
    result: list[Any] = []
    for raw in raw_cases:
        checks = raw.get("assert") if isinstance(raw, dict) else None
        if not isinstance(checks, list) or not checks:
            result.append(raw)
            continue
        key = repr(checks)
        if key not in shared:
            try:
                shared[key] = _assertion_list().validate_python(checks)
            except ValidationError:
                shared[key] = None
        validated = shared[key]
        result.append(raw if validated is None else {**raw, "assert": validated})
    return result


_CASES_AT_ONCE = 2_000
"""Cases validated in one call: large enough to cost nothing per call, small enough to free raw data early."""
_NO_TAGS: list[str] = []
_NO_METADATA: dict[str, Any] = {}


def _compact(cases: list[Case]) -> list[Case]:
    """Let cases share what is equal between them: memory per case is what a large suite costs.

    Cases are frozen, and nothing changes their lists in place, so one empty ``tags`` and ``metadata``,
    one list per distinct assertion list (its specs are shared already) and one set of the fields
    given (pydantic keeps one per model) serve every case that has them.
    """
    lists: dict[tuple[int, ...], list[AssertionSpec]] = {}
    given: dict[frozenset[str], set[str]] = {}
    for case in cases:
        fields = case.__dict__
        if not fields["tags"]:
            fields["tags"] = _NO_TAGS
        if not fields["metadata"]:
            fields["metadata"] = _NO_METADATA
        checks = fields["assert_"]
        fields["assert_"] = lists.setdefault(tuple(map(id, checks)), checks)
        names = frozenset(case.__pydantic_fields_set__)
        object.__setattr__(case, "__pydantic_fields_set__", given.setdefault(names, set(names)))
    return cases


def _validated_cases(
    data: LineDict, *, path: Path, file: str, root: Path
) -> tuple[Any, list[CaseOrigin], list[int]]:
    """The suite's cases (inline or from case files) validated, each error at its own file:line."""
    if not isinstance(data.get("cases"), str | list):
        return data, [], []
    loaded = expand_cases(data, suite_path=path, suite_file=file, root=root)
    # the first problem in file order is the one reported: a case that is not a mapping, or the
    # first case that does not validate before it
    not_mapping = next((i for i, raw in enumerate(loaded.raw) if not isinstance(raw, dict)), None)
    count = len(loaded.raw) if not_mapping is None else not_mapping
    # a document read by the fast parser finds its lines again from its text, so a raw case can go
    # once it is validated: the suite is never in memory twice over, raw and validated
    release = isinstance(data, LinesOnDemand) and isinstance(data.get("cases"), list)
    shared: dict[str, list[AssertionSpec] | None] = {}
    cases: list[Case] = []
    for start in range(0, count, _CASES_AT_ONCE):
        part = loaded.raw[start : min(count, start + _CASES_AT_ONCE)]
        try:
            cases.extend(_compact(_case_list().validate_python(_shared_assertions(part, shared))))
        except ValidationError as exc:
            at = exc.errors()[0]["loc"][0]
            assert isinstance(at, int)
            index = start + at
            origin = loaded.origins[index]
            try:
                Case.model_validate(loaded.raw[index])
            except ValidationError as own:
                raise describe_validation_error(
                    own, origin.data, file=origin.file, error=SuiteError, prefix=origin.path
                ) from None
            raise  # pragma: no cover  (the case failed in the list, so it fails on its own)
        if release:
            inline = data["cases"]
            for index in range(start, start + len(part)):
                if loaded.origins[index].data is data:
                    loaded.raw[index] = inline[loaded.origins[index].path[1]] = None
    if not_mapping is not None:
        origin = loaded.origins[not_mapping]
        raise SuiteError("a case must be a mapping", file=origin.file, line=line_of(origin.data, origin.path))
    # what the suite model validates; lines are looked up in ``data`` itself
    return {**data, "cases": cases}, loaded.origins, loaded.reference_lines


def load_suite(
    project: Project,
    path: Path,
    source: PromptSource | None = None,
    *,
    skip_unfit_cases: bool = False,
    prompts: dict[str, Prompt] | None = None,
) -> Suite:
    """Read, parse and validate one suite file (and the prompt it tests).

    With ``skip_unfit_cases``, cases whose variables do not fit the prompt's
    inputs are left out instead of being an error (used for a prompt's older
    version, which may predate an input). ``prompts`` holds the prompts already
    loaded from the same source, by name: suites that test one prompt share it.
    """
    file = project.relpath(path)
    text = read_yaml_text(path, file=file, error=SuiteError, what="suite")
    found: dict[str, Any] = {}

    def cases_checked(data: LineDict) -> Any:
        checked, found["origins"], found["reference_lines"] = _validated_cases(
            data, path=path, file=file, root=project.root
        )
        return checked

    spec, data = parse_yaml_model(
        text,
        SuiteFile,
        file=file,
        error=SuiteError,
        not_a_mapping="a suite must be a mapping with 'prompt' and 'cases'",
        prepare=cases_checked,
        item_lines_of=("cases",),
    )
    origins, reference_lines = found["origins"], found["reference_lines"]

    source = source or project_source(project)
    try:
        prompt = prompts[spec.prompt] if prompts is not None and spec.prompt in prompts else None
        if prompt is None:
            prompt = load_prompt(source, spec.prompt)
            if prompts is not None:
                prompts[spec.prompt] = prompt
    except PromptError as exc:
        if exc.file is None:  # the prompt does not exist; any other problem is inside the prompt file
            raise SuiteError(exc.message, file=file, line=line_of(data, ("prompt",))) from None
        raise

    for index, model in enumerate(spec.models or []):
        try:
            project.resolve_model(model)
        except ConfigError as exc:
            raise SuiteError(exc.message, file=file, line=line_of(data, ("models", index))) from None

    checked: set[int] = set()
    _check_assertions(spec.defaults.assert_, data, ("defaults", "assert"), file, checked)
    # the quick test of every case's variables; _vars_problem says what is wrong when it fails
    declared = prompt.front_matter.input_specs()
    required = {name for name, input_spec in declared.items() if input_spec.is_required}
    required_left = required - spec.defaults.vars.keys()
    defaults_fit = spec.defaults.vars.keys() <= declared.keys()
    case_lines = _case_lines_when_sound(
        spec.cases,
        origins,
        reference_lines,
        data,
        file,
        checked,
        (declared.keys(), required_left, defaults_fit),
    )
    unfit: set[str] = set()
    if case_lines is None:  # some case has a problem: look at each in order, so the first one is reported
        case_lines = {}
        first_at: dict[str, int] = {}
        for index, case in enumerate(spec.cases):
            origin = origins[index]
            if case.id in first_at:
                first = first_at[case.id]
                own = line_of(origins[first].data, origins[first].path) or 0
                where = f"line {own}" if origins[first].file == file else f"{origins[first].file}:{own}"
                raise SuiteError(
                    f"duplicate case id {case.id!r} (first at {where})",
                    file=origin.file,
                    line=line_of(origin.data, (*origin.path, "id")),
                )
            first_at[case.id] = index
            case_lines[case.id] = _case_line(origin, index, reference_lines, data, file)
            _check_assertions(case.assert_, origin.data, (*origin.path, "assert"), origin.file, checked)
            if defaults_fit and case.vars.keys() <= declared.keys() and required_left <= case.vars.keys():
                continue
            problem = _vars_problem(spec, case, origin, prompt, data, file)
            if problem is not None:
                if not skip_unfit_cases:
                    raise problem
                unfit.add(case.id)
    if unfit:
        # another version of the prompt (e.g. at a base ref) cannot run these cases; leave them out
        spec = spec.model_copy(update={"cases": [c for c in spec.cases if c.id not in unfit]})
    gpath = golden_path(path)
    golden = read_golden(gpath, project.relpath(gpath))
    goldens = {(g.case, g.model): g for g in golden.goldens} if golden else {}
    return Suite(suite_name(project, path), path, file, spec, prompt, case_lines, goldens)


def _case_line(origin: CaseOrigin, index: int, reference_lines: list[int], data: Any, file: str) -> int:
    """The line a case's results point to: its own (inline), or the suite's line naming its case file."""
    if origin.data is data or origin.file != file:
        return reference_lines[index]  # an inline case's reference line is its own line
    return line_of(origin.data, origin.path) or 0


def _case_lines_when_sound(
    cases: list[Case],
    origins: list[CaseOrigin],
    reference_lines: list[int],
    data: Any,
    file: str,
    checked: set[int],
    inputs: tuple[Any, set[str], bool],
) -> dict[str, int] | None:
    """Each case's line when no case has a problem (ids unique, assertions valid, variables fit), else None.

    The checks of ``load_suite``'s loop, a whole suite at a time: a large suite pays for the loop only
    when there is a problem to report. ``inputs``: the declared input names, the required ones the
    suite's defaults leave open, and whether those defaults are all declared.
    """
    declared, required, defaults_fit = inputs
    if not defaults_fit:
        return None
    ids = [case.id for case in cases]
    if all(origin.data is data or origin.file != file for origin in origins):
        lines = dict(zip(ids, reference_lines, strict=True))
    else:
        lines = {
            case_id: _case_line(o, i, reference_lines, data, file)
            for i, (case_id, o) in enumerate(zip(ids, origins, strict=True))
        }
    if len(lines) != len(ids):
        return None
    distinct = {id(case.assert_): case.assert_ for case in cases}
    for checks in distinct.values():
        for check in checks:
            if id(check) not in checked:
                try:
                    validate_assertion(check)
                except ValueError:
                    return None
                checked.add(id(check))
    if not all(case.vars.keys() <= declared and required <= case.vars.keys() for case in cases):
        return None
    return lines


def _check_assertions(
    specs: list[AssertionSpec], data: Any, path: tuple[Any, ...], file: str, checked: set[int]
) -> None:
    """Check each spec once (``checked`` holds the ids of those that passed: cases share them)."""
    for index, spec in enumerate(specs):
        if id(spec) in checked:
            continue
        try:
            validate_assertion(spec)
        except ValueError as exc:
            raise SuiteError(str(exc), file=file, line=line_of(data, (*path, index))) from None
        checked.add(id(spec))


def load_suites(project: Project, paths: list[str] | tuple[str, ...] = ()) -> list[Suite]:
    prompts: dict[str, Prompt] = {}
    with gc_paused():  # everything loaded stays alive: collections would only walk it again and again
        suites = [load_suite(project, path, prompts=prompts) for path in discover_suites(project, paths)]
    if not suites:
        raise UsageError(f"no suite files found under {project.config.suites!r}")
    return suites


def load_suites_at(
    project: Project, source: PromptSource, paths: list[str] | tuple[str, ...] = ()
) -> list[Suite]:
    """The suites with their prompts read from ``source`` (e.g. a git ref).

    Suites whose prompt does not exist there, and cases that the older prompt
    cannot render, are left out: they show as added on the other side.
    """
    suites = []
    prompts: dict[str, Prompt] = {}
    with gc_paused():  # as in load_suites
        for path in discover_suites(project, paths):
            try:
                suites.append(load_suite(project, path, source, skip_unfit_cases=True, prompts=prompts))
            except SuiteError as exc:
                if "not found" not in exc.message:
                    raise
    return suites


def case_matches(suite: Suite, case: Case, pattern: str | None) -> bool:
    """``--filter`` matches a case id, or ``suite::case``, against a glob."""
    if not pattern:
        return True
    return fnmatch.fnmatchcase(case.id, pattern) or fnmatch.fnmatchcase(f"{suite.name}::{case.id}", pattern)
