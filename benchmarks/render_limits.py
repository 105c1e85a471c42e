"""How fast, and in how much memory, the CLI refuses each hostile template.

    python benchmarks/render_limits.py

Each reproducer becomes the body of a prompt in a temporary project; ``promptops
render`` runs it in a fresh process. Printed per row: exit code, wall seconds,
peak RSS of that process, and the first words of its one error line. The target
is exit 2 within about a second (Python start-up included) and memory near the
baseline of rendering an ordinary prompt.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    "ordinary prompt (baseline)": "{{ ticket }} {% for x in range(10) %}{{ x }}{% endfor %}",
    "include /etc/passwd": '{% include "/etc/passwd" %}',
    "include ../..": '{% include "../../../etc/passwd" %}',
    "include a variable": "{% include where %}",
    "extends /etc/passwd": '{% extends "/etc/passwd" %}',
    "nested range(99999) loops": "{% for a in range(99999) %}{% for b in range(99999) %}x"
    "{% endfor %}{% endfor %}",
    "lipsum(10**6)": "{{ lipsum(10**6) }}",
    "9 ** 999999999": "{{ 9 ** 999999999 }}",
    '"a" * 10**9': '{{ "a" * 10**9 }}',
    "if nested 2,000 deep": "{% if true %}" * 2000 + "x" + "{% endif %}" * 2000,
    "100,000 x 1 KB output": '{% for i in range(100000) %}{{ "a" * 1000 }}{% endfor %}',
    "doubling a namespace string": '{% set ns = namespace(s="a") %}{% for i in range(64) %}'
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
}


def prompt(body: str) -> str:
    inputs = "inputs:\n  ticket: {default: hi}\n  where: {default: /etc/passwd}\n"
    return f"---\nversion: 1.0.0\n{inputs}---\n{body}\n"


def main() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    print(f"{'reproducer':32} {'exit':>4} {'seconds':>8} {'peak MiB':>9}  message")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "promptops.yaml").write_text("version: 1\nmodels: {default: openai/none}\n")
        (root / "prompts").mkdir()
        for name, body in CASES.items():
            (root / "prompts" / "p.j2").write_text(prompt(body))
            out, err = root / "stdout", root / "stderr"
            start = time.perf_counter()
            with out.open("w") as stdout, err.open("w") as stderr:
                child = subprocess.Popen(
                    [sys.executable, "-m", "promptops", "render", "p"],
                    cwd=root,
                    env=env,
                    stdout=stdout,
                    stderr=stderr,
                )
                # wait4 gives this child's own peak RSS (RUSAGE_CHILDREN would keep the largest so far)
                _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - start
            code = os.waitstatus_to_exitcode(status)
            done = subprocess.CompletedProcess(child.args, code, out.read_text(), err.read_text())
            peak_mib = f"{usage.ru_maxrss / 1024:.0f}"
            message = (done.stderr.strip().splitlines() or ["ok: rendered"])[-1]
            message = message.split(": ", 2)[-1][:70]
            print(f"{name:32} {done.returncode:>4} {seconds:>8.2f} {peak_mib:>9}  {message}")


if __name__ == "__main__":
    main()
