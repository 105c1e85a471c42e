"""pytest plugin: golden suites as pytest tests, and a ``promptops`` fixture.

The plugin is registered through the ``pytest11`` entry point, so pytest loads
it in every environment that has promptops installed. It therefore stays inert
unless asked: suite files are collected only with ``--promptops`` or when a
path inside the suites folder is named on the command line (or in
``testpaths``). Importing this module imports neither litellm nor promptops
internals; they load on first use.

Each suite case × model is one test item (``suites/triage.yaml::refund-basic[default]``).
The items pytest selected (after ``-k``, ``-m``, ``--lf``) are run as one plan
through the same core as ``promptops test`` (``build_plan`` + ``run_plan``:
concurrent calls, response cache, retries, run record) when the first of them
is set up; every item then reports its ``CaseVerdict``. Under pytest-xdist a
worker learns its items in chunks, so it runs each chunk it has been handed as
one plan; the shared SQLite cache keeps re-runs free of provider calls.

Verdicts map onto pytest outcomes: passed → passed, failed → FAILED (the
failing assertions, the output excerpt and the suite file:line), error (a
provider failure after retries, a replay miss) → ERROR at setup.

One module per part: ``options`` (command-line and ini options, and the run
options they make), ``activation`` (whether a run is the plugin's business),
``items`` (suite files, case items, running them as plans, reporting
verdicts) and ``fixture`` (the ``promptops`` fixture). This package is the
plugin pytest registers: its hooks and fixture are the names below.
"""

from promptops.pytest_plugin.activation import pytest_configure
from promptops.pytest_plugin.fixture import ModelOutput, PromptOpsFixture, promptops
from promptops.pytest_plugin.options import pytest_addoption

__all__ = ["ModelOutput", "PromptOpsFixture", "promptops", "pytest_addoption", "pytest_configure"]
