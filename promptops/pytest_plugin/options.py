"""The plugin's command-line and ini options, and the run options they make.

Both the suite items and the ``promptops`` fixture run with these options.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from promptops.plan import RunOptions

# litellm's OpenAI path builds a coroutine it never awaits (harmless; `promptops test` prints it
# too); without this filter it would fill the warnings summary of every run that calls a model
LITELLM_NOISE = "ignore:coroutine 'OpenAIChatCompletion.acompletion' was never awaited:RuntimeWarning"


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def pytest_addoption(parser: pytest.Parser) -> None:
    """Command-line and ini options; they do nothing until the plugin is activated."""
    group = parser.getgroup("promptops", "promptops golden suites")
    group.addoption(
        "--promptops",
        action="store_true",
        default=False,
        help="Collect the suites under the promptops suites folder as tests (one per case and model).",
    )
    group.addoption(
        "--promptops-model",
        action="append",
        default=[],
        metavar="MODEL",
        dest="promptops_models",
        help="Model alias or litellm id replacing the suites' own models; repeat for several.",
    )
    group.addoption(
        "--promptops-repeat",
        type=_positive_int,
        default=None,
        metavar="N",
        help="Samples per case and model (a case passes when its pass rate reaches the threshold).",
    )
    group.addoption(
        "--promptops-replay",
        action="store_true",
        default=False,
        help="Answer only from the response cache and committed recordings; never call a provider.",
    )
    group.addoption(
        "--promptops-no-cache",
        action="store_true",
        default=False,
        help="Do not answer from the response cache (answers still refresh it).",
    )
    parser.addini(
        "promptops_models", "Default for --promptops-model (space separated).", type="args", default=[]
    )
    parser.addini("promptops_repeat", "Default for --promptops-repeat.", default="")
    parser.addini("promptops_replay", "Default for --promptops-replay.", type="bool", default=False)


def run_options(config: pytest.Config) -> RunOptions:
    """The run options of the command line and ini file: models, repeat, cache and replay."""
    from promptops.errors import UsageError
    from promptops.plan import RunOptions

    models = tuple(config.getoption("promptops_models") or config.getini("promptops_models") or ())
    repeat: int | None = config.getoption("promptops_repeat")
    if repeat is None and str(config.getini("promptops_repeat")).strip():
        text = str(config.getini("promptops_repeat")).strip()
        if not text.isdigit() or int(text) < 1:
            raise UsageError(f"ini option promptops_repeat expects a whole number >= 1, got {text!r}")
        repeat = int(text)
    replay = bool(config.getoption("promptops_replay") or config.getini("promptops_replay"))
    return RunOptions(
        models=models, repeat=repeat, use_cache=not config.getoption("promptops_no_cache"), replay=replay
    )
