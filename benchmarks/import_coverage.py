"""How much of real promptfoo projects `promptops import promptfoo` carries over.

    python benchmarks/import_coverage.py [FOLDER ...]

Every promptfoo config found under the folders (default: the real configs in
tests/data/promptfoo-examples) is imported into a scratch folder, then linted.
Prints, per config, the exit code, assertions carried over, and whether the
imported project lints clean; then the totals: configs imported or explained,
crashes (must be 0), the share of assertion instances carried over, and the
assertion types most often left behind.
"""

from __future__ import annotations

import collections
import os
import sys
import tempfile
from pathlib import Path

from click.testing import CliRunner

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from promptops.cli import cli  # noqa: E402
from promptops.importers.promptfoo import import_promptfoo  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FOLDERS = [ROOT / "tests" / "data" / "promptfoo-examples"]


def _configs(folders: list[Path]) -> list[Path]:
    found: list[Path] = []
    for folder in folders:
        found.extend(sorted(p for p in folder.rglob("promptfooconfig*.y*ml") if p.is_file()))
        found.extend(sorted(p for p in folder.rglob("promptfooconfig*.json") if p.is_file()))
    return found


def main(argv: list[str]) -> int:
    folders = [Path(a) for a in argv] or DEFAULT_FOLDERS
    configs = _configs(folders)
    if not configs:
        print("no promptfoo configs found", file=sys.stderr)
        return 2
    total = carried = crashes = explained_only = complete = lint_clean = 0
    left_behind: collections.Counter[str] = collections.Counter()
    runner = CliRunner()
    print(f"{'config':60} {'exit':>4} {'asserts':>9} {'lint':>5}")
    for config in configs:
        label = str(config.relative_to(config.parents[2]) if len(config.parents) > 2 else config)
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "out"
            try:
                report = import_promptfoo(config, out)
            except Exception as exc:  # noqa: BLE001  (a crash is what this benchmark counts)
                if type(exc).__name__ in ("ImportError_", "UsageError", "ConfigError"):
                    explained_only += 1
                    print(f"{label[:60]:60} {'2':>4} {'-':>9} {'-':>5}  {exc}")
                    continue
                crashes += 1
                print(f"{label[:60]:60} CRASH {type(exc).__name__}: {exc}")
                continue
            total += report.assertions_total
            carried += report.assertions_carried
            complete += report.complete
            for item in report.not_carried:
                if item.what.startswith("assertion "):
                    left_behind[item.what.split("'")[1] if "'" in item.what else item.what] += 1
            cwd = Path.cwd()
            os.chdir(out)
            try:
                lint = runner.invoke(cli, ["lint"])
            finally:
                os.chdir(cwd)
            clean = lint.exit_code == 0
            lint_clean += clean
            exit_code = 0 if report.complete else 1
            print(
                f"{label[:60]:60} {exit_code:>4} {report.assertions_carried:>4}/{report.assertions_total:<4} "
                f"{'ok' if clean else 'FAIL':>5}"
            )
            if not clean:
                print("    " + lint.output.strip().replace("\n", "\n    ")[:600])
    imported = len(configs) - crashes - explained_only
    share = carried / total if total else 1.0
    print()
    print(
        f"configs: {len(configs)}; imported {imported} ({complete} completely), "
        f"explained-only {explained_only}"
    )
    print(f"crashes: {crashes}")
    print(f"imported projects that lint clean: {lint_clean}/{imported}")
    print(f"assertion instances carried over: {carried}/{total} = {share:.1%}")
    if left_behind:
        print("left behind, by type: " + ", ".join(f"{k} {v}" for k, v in left_behind.most_common(12)))
    return 0 if crashes == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
