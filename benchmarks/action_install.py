"""How long the composite action takes to install promptops on a fresh runner, first and with its caches.

Runs the action's own step scripts (``Resolve what to install`` and ``Install promptops`` from
.github/actions/promptops/action.yml) with bash, as GitHub Actions would, in a scratch HOME with an empty
pip cache. ``actions/cache`` is played by tar: after the first run the cached folders (the environment,
pip's wheels, the models) are archived under the key the action computed; the second run starts from a
new empty HOME, restores the archive for that key and runs the steps again.

    python benchmarks/action_install.py                # the default install (no extras)
    python benchmarks/action_install.py --extras local # with the built-in models (compiles llama.cpp)

Packages come from this machine's package index, so download times differ from a hosted runner's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ACTION = Path(".github/actions/promptops")
CACHED_PATHS = (".cache/promptops-action/venv", ".cache/pip", ".cache/promptops/models")


def _step(name: str) -> dict:
    steps = yaml.safe_load((ROOT / ACTION / "action.yml").read_text())["runs"]["steps"]
    return next(s for s in steps if name in (s.get("id"), s.get("name")))


def _run_step(name: str, env: dict[str, str], step_env: dict[str, str]) -> tuple[float, dict[str, str]]:
    step = _step(name)
    output = Path(env["RUNNER_TEMP"]) / f"output-{time.monotonic_ns()}"
    output.write_text("")
    started = time.perf_counter()
    subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", step["run"]],
        env={**env, **step_env, "GITHUB_OUTPUT": str(output)},
        check=True,
        cwd=env["HOME"],
    )
    seconds = time.perf_counter() - started
    return seconds, dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)


def _snapshot(target: Path) -> Path:
    """The tracked files, as a runner downloads the action (no .git, no build leftovers)."""
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in files.stdout.splitlines():
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target / ACTION


def _runner(scratch: Path, python: Path, action_dir: Path) -> dict[str, str]:
    home = scratch / "home"
    temp = scratch / "runner-temp"
    home.mkdir()
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHONPATH"))}
    env.update(
        HOME=str(home),
        RUNNER_TEMP=str(temp),
        GITHUB_ACTION_PATH=str(action_dir),
        GITHUB_PATH=str(temp / "path"),
        PATH=f"{python.parent}{os.pathsep}{env['PATH']}",
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    return env


def _one_run(
    scratch: Path, python: Path, action_dir: Path, extras: str, archive: Path | None
) -> dict[str, float | str]:
    env = _runner(scratch, python, action_dir)
    home = Path(env["HOME"])
    figures: dict[str, float | str] = {}
    lock_s, lock = _run_step(
        "lock", env, {"INSTALL": "", "EXTRAS": extras, "PYTHON_VERSION": sys.version.split()[0]}
    )
    figures["resolve_s"] = lock_s
    hit = False
    started = time.perf_counter()
    if archive is not None and archive.name == f"{lock['key']}.tar" and archive.is_file():
        with tarfile.open(archive) as tar:
            tar.extractall(home, filter="tar")
        hit = True
    figures["restore_s"] = time.perf_counter() - started
    install_s, _ = _run_step(
        "Install promptops", env, {"CACHED": "true" if hit else "", "SPEC_FILE": lock["spec-file"]}
    )
    figures["install_s"] = install_s
    figures["cache"] = "hit" if hit else "miss"
    figures["key"] = lock["key"]
    return figures


def _save(scratch: Path, key: str, store: Path) -> tuple[Path, float, int]:
    home = scratch / "home"
    archive = store / f"{key}.tar"
    started = time.perf_counter()
    with tarfile.open(archive, "w") as tar:
        for relative in CACHED_PATHS:
            if (home / relative).exists():
                tar.add(home / relative, arcname=relative)
    return archive, time.perf_counter() - started, archive.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--extras", default="", help='extras of the action\'s own source, e.g. "local"')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="promptops-action-") as tmp:
        work = Path(tmp)
        # the runner's Python (what actions/setup-python provides): a clean interpreter with pip
        subprocess.run([sys.executable, "-m", "venv", str(work / "toolcache")], check=True)
        python = work / "toolcache/bin/python"
        action_dir = _snapshot(work / "action-source")
        store = work / "cache-store"
        store.mkdir()
        # a new runner has the same paths (HOME, the tool cache): the restored environment's scripts
        # name its interpreter by absolute path
        runner = work / "runner"
        runner.mkdir()
        first = _one_run(runner, python, action_dir, args.extras, None)
        archive, save_s, size = _save(runner, str(first["key"]), store)
        shutil.rmtree(runner)
        runner.mkdir()
        second = _one_run(runner, python, action_dir, args.extras, archive)
    extras = args.extras or "none"
    print(f"action install, extras: {extras}")
    for label, run in (("first run (empty caches)", first), ("second run (cache restored)", second)):
        total = float(run["resolve_s"]) + float(run["restore_s"]) + float(run["install_s"])
        print(
            f"  {label:<28} cache {run['cache']:<4}  resolve {float(run['resolve_s']):6.1f} s  "
            f"restore {float(run['restore_s']):5.1f} s  install {float(run['install_s']):6.1f} s  "
            f"total {total:6.1f} s"
        )
    print(f"  cache saved after the first run: {size / 2**20:.0f} MiB in {save_s:.1f} s (tar, uncompressed)")
    first_total = sum(float(first[k]) for k in ("resolve_s", "restore_s", "install_s"))
    second_total = sum(float(second[k]) for k in ("resolve_s", "restore_s", "install_s"))
    print(f"  second / first: {second_total / first_total:.2f}")


if __name__ == "__main__":
    main()
