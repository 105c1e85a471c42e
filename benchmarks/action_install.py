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
CACHES = {
    "venv": ".cache/promptops-action/venv",
    "pip": ".cache/pip",
    "models": ".cache/promptops/models",
}
"""The action's three actions/cache entries; pip's wheels are restored only when the environment is not."""


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


def _restore(home: Path, archive: Path) -> bool:
    if not archive.is_file():
        return False
    with tarfile.open(archive) as tar:
        tar.extractall(home, filter="tar")
    return True


def _one_run(
    scratch: Path, python: Path, action_dir: Path, extras: str, store: Path | None
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
    if store is not None:
        hit = _restore(home, store / f"venv-{lock['key']}.tar")
        if not hit:
            _restore(home, store / f"pip-{lock['key']}.tar")
        _restore(home, store / f"models-{lock['models-key']}.tar")
    figures["restore_s"] = time.perf_counter() - started
    install_s, _ = _run_step(
        "Install promptops", env, {"CACHED": "true" if hit else "", "SPEC_FILE": lock["spec-file"]}
    )
    figures["install_s"] = install_s
    figures["cache"] = "hit" if hit else "miss"
    figures["key"] = lock["key"]
    figures["models-key"] = lock["models-key"]
    return figures


def _save(scratch: Path, run: dict[str, float | str], store: Path) -> dict[str, int]:
    """Archive each cache under its key, as the action's post-job cache steps do; returns the sizes."""
    home = scratch / "home"
    sizes = {}
    for name, relative in CACHES.items():
        if not (home / relative).exists():
            continue
        key = run["models-key"] if name == "models" else run["key"]
        archive = store / f"{name}-{key}.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(home / relative, arcname=relative)
        sizes[name] = archive.stat().st_size
    return sizes


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
        sizes = _save(runner, first, store)
        shutil.rmtree(runner)
        runner.mkdir()
        second = _one_run(runner, python, action_dir, args.extras, store)
    extras = args.extras or "none"
    print(f"action install, extras: {extras}")
    for label, run in (("first run (empty caches)", first), ("second run (cache restored)", second)):
        total = float(run["resolve_s"]) + float(run["restore_s"]) + float(run["install_s"])
        print(
            f"  {label:<28} cache {run['cache']:<4}  resolve {float(run['resolve_s']):6.1f} s  "
            f"restore {float(run['restore_s']):5.1f} s  install {float(run['install_s']):6.1f} s  "
            f"total {total:6.1f} s"
        )
    saved = ", ".join(f"{name} {size / 2**20:.0f} MiB" for name, size in sizes.items())
    print(f"  caches saved after the first run (tar, uncompressed): {saved}")
    first_total = sum(float(first[k]) for k in ("resolve_s", "restore_s", "install_s"))
    second_total = sum(float(second[k]) for k in ("resolve_s", "restore_s", "install_s"))
    print(f"  second / first: {second_total / first_total:.2f}")


if __name__ == "__main__":
    main()
