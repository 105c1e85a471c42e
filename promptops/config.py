"""Project configuration: ``promptops.yaml``, model aliases and constraints.

The project root is found by walking up from the working directory to the
first folder holding ``promptops.yaml``, the way git finds ``.git``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from promptops.errors import ConfigError
from promptops.locations import (
    parse_yaml_model,
    read_yaml_text,
)
from promptops.redaction import remember_project_secrets
from promptops.strict import StrictModel

CONFIG_FILE = "promptops.yaml"
STATE_DIR = ".promptops"


class ModelAlias(StrictModel):
    """A named model: a litellm model id plus how to call it."""

    model: str
    """litellm model id, e.g. ``openai/gpt-4o-2024-08-06`` or ``local/smollm2-135m-instruct``."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Call parameters (temperature, max_tokens, top_p, seed, stop ...) layered over the defaults."""
    api_base: str | None = None
    """Base URL of an OpenAI-compatible endpoint or proxy."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; keys are never written in config."""


class Defaults(StrictModel):
    model: str = "default"
    """Alias or litellm id used when a suite names no models."""
    params: dict[str, Any] = Field(default_factory=lambda: {"temperature": 0, "max_tokens": 256})
    """Call parameters for every model, overridden by alias, prompt and suite params."""
    repeat: int = Field(default=1, ge=1)
    """Samples per case and model."""
    judge: str = "judge"
    """Alias or litellm id of the judge for model-graded assertions (a suite or assertion may override)."""
    embedding: str | None = None
    """Embedding model for ``similar``; default: the alias ``embedding`` if defined, else the built-in one."""


class RunSettings(StrictModel):
    concurrency: int = Field(default=16, ge=1)
    """Maximum provider calls in flight."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Per-call timeout in seconds."""
    retries: int = Field(default=4, ge=0)
    """Retries after the first attempt on 429, 5xx, timeouts and connection errors."""
    backoff_s: float = Field(default=1.0, ge=0)
    """Base delay of the exponential backoff (doubled each retry, with full jitter)."""
    backoff_max_s: float = Field(default=30.0, ge=0)
    """Cap of a single backoff delay, Retry-After included."""


class RenderSettings(StrictModel):
    max_output_bytes: int = Field(default=1_000_000, ge=1)
    """Largest text (UTF-8 bytes) one prompt may render to; a larger render is an error naming the prompt."""


class Constraints(StrictModel):
    """The six production constraints weighed by escalation rules."""

    data_privacy: Literal["external-ok", "internal-only"] | None = None
    deployment: Literal["cloud", "vpc", "on-prem", "edge"] | None = None
    latency_p95_ms: float | None = Field(default=None, gt=0)
    cost_per_1k_calls_usd: float | None = Field(default=None, ge=0)
    update_frequency: Literal["daily", "weekly", "monthly", "rarely"] | None = None
    control: Literal["output-structure", "knowledge-sources", "behavior"] | None = None


class EscalationSettings(StrictModel):
    rules: str | None = None
    """Path to a rules YAML that extends the built-in escalation rules."""


class ProjectConfig(StrictModel):
    """The contents of ``promptops.yaml``."""

    version: Literal[1] = 1
    """Schema version of this file."""
    prompts: str = "prompts"
    """Folder of prompt templates, relative to the project root."""
    suites: str = "suites"
    """Folder of suite files, relative to the project root."""
    models: dict[str, str | ModelAlias] = Field(default_factory=dict)
    """Model aliases: a litellm id string or a full alias."""
    defaults: Defaults = Field(default_factory=Defaults)
    run: RunSettings = Field(default_factory=RunSettings)
    render: RenderSettings = Field(default_factory=RenderSettings)
    constraints: Constraints = Field(default_factory=Constraints)
    escalation: EscalationSettings = Field(default_factory=EscalationSettings)


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to call: alias name, litellm id, merged params."""

    alias: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    api_base: str | None = None
    api_key_env: str | None = None

    def api_key(self) -> str | None:
        if self.api_key_env is None:
            return None
        return os.environ.get(self.api_key_env)


@dataclass(frozen=True)
class Project:
    """A loaded project: where it lives and what its config says."""

    root: Path
    config: ProjectConfig
    config_file: Path | None = None
    """The config file as shown in messages (relative to the working directory at load time)."""

    @property
    def prompts_dir(self) -> Path:
        return self.root / self.config.prompts

    @property
    def suites_dir(self) -> Path:
        return self.root / self.config.suites

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def runs_dir(self) -> Path:
        return self.state_dir / "runs"

    def relpath(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root.resolve()))
        except ValueError:
            return str(path)

    def resolve_model(self, name: str) -> ResolvedModel:
        """Turn an alias (or a bare litellm id such as ``openai/gpt-4o``) into a callable model."""
        entry = self.config.models.get(name)
        if entry is None:
            if "/" not in name:
                known = ", ".join(sorted(self.config.models)) or "none"
                raise ConfigError(
                    f"unknown model {name!r}: not an alias in {CONFIG_FILE} (aliases: {known}) "
                    "and not a litellm id of the form provider/model",
                    file=self.config_file,
                )
            entry = ModelAlias(model=name)
        elif isinstance(entry, str):
            entry = ModelAlias(model=entry)
        params = {**self.config.defaults.params, **entry.params}
        return ResolvedModel(name, entry.model, params, entry.api_base, entry.api_key_env)


def find_project_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``promptops.yaml``."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    return None


def display_path(path: Path) -> str:
    """``path`` as the user should see it: relative to the working directory (``../`` when above it)."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)


def load_config(path: Path) -> ProjectConfig:
    """Read and validate one ``promptops.yaml``."""
    shown = display_path(path)
    text = read_yaml_text(path, file=shown, error=ConfigError, what="config")
    config, _ = parse_yaml_model(
        text,
        ProjectConfig,
        file=shown,
        error=ConfigError,
        not_a_mapping="config must be a mapping of keys to values",
        empty_ok=True,
    )
    return config


def load_project(start: Path | None = None) -> Project:
    """Find and load the project around ``start`` (default: the working directory)."""
    root = find_project_root(start)
    if root is None:
        where = (start or Path.cwd()).resolve()
        raise ConfigError(
            f"no {CONFIG_FILE} found in {where} or any parent folder; run 'promptops init' to create one"
        )
    config_file = root / CONFIG_FILE
    config = load_config(config_file)
    remember_project_secrets(config.models.values(), config.defaults.params)
    return Project(root=root, config=config, config_file=Path(display_path(config_file)))
