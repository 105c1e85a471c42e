"""Large suites take the fast YAML parser only where it reads exactly what PyYAML reads.

``load_large_yaml`` must either decline (None: the line-tracking loader reads the text) or give the
same data, and the same line for every case, as ``load_yaml``. Seeded mutants of a large suite and
every short number-like word are read both ways; suites with mistakes report the same file:line.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from promptops import locations
from promptops.errors import SuiteError
from promptops.locations import LineDict, load_large_yaml, load_yaml, plain

CASE = """\
  - id: case-{i:05d}
    description: 'Ticket {i}: "quoted" text, with commas, colons: and # signs'
    vars: {{ticket: 'I was charged twice for order {i}, why?', priority: {i}}}
    tags: [billing, refund]
    assert:
      - {{type: contains, value: refund}}
      - type: icontains
        value: "Refund #{i}"
        threshold: 0.5
"""


def large_suite(cases: int = 400, extra: str = "") -> str:
    head = "prompt: support/triage\ndescription: a large suite\nthreshold: 0.9\n" + extra + "cases:\n"
    return head + "".join(CASE.format(i=i) for i in range(cases))


def read_both(text: str) -> tuple[Any, Any]:
    """(fast, exact): the fast reading (None when declined) and the exact one (an error message if any)."""
    try:
        exact: Any = load_yaml(text, file="s.yaml", error=SuiteError)
    except SuiteError as exc:
        exact = ("error", exc.message, exc.line)
    try:
        fast = load_large_yaml(text, file="s.yaml", error=SuiteError, item_lines_of=("cases",))
    except SuiteError as exc:  # pragma: no cover  (it declines rather than raising)
        pytest.fail(f"the fast path raised {exc}")
    return fast, exact


def assert_same(text: str) -> bool:
    """The fast reading equals the exact one, lines of the cases included; True when it was taken."""
    fast, exact = read_both(text)
    if fast is None:
        return False
    assert isinstance(exact, LineDict), f"fast path accepted what the exact loader refused: {exact}"
    assert repr(plain(fast)) == repr(plain(exact))
    if isinstance(exact.get("cases"), list):
        assert fast["cases"].item_lines == exact["cases"].item_lines
    # every other line comes from the exact loader on demand
    assert fast.key_lines == exact.key_lines
    return True


def test_a_large_plain_suite_takes_the_fast_path() -> None:
    text = large_suite()
    assert len(text) >= locations.LARGE_YAML_CHARS
    assert assert_same(text)


def test_small_documents_always_take_the_exact_loader() -> None:
    assert read_both("prompt: x\ncases:\n  - id: a\n")[0] is None


@pytest.mark.parametrize(
    "snippet",
    [
        "flag: yes\n",
        "flag: off\n",
        "when: 2024-01-02\n",
        "time: 12:30\n",
        "octal: 017\n",
        "octal: 0o17\n",
        "big: 1e3\n",
        "big: 1.0e3\n",
        "half: -.5\n",
        "under: _1\n",
        "hex: 0x1F\n",
        "anchor: &a [1]\nalias: *a\n",
        "tagged: !!str 12\n",
        "block: |\n  text\n",
        "folded: >\n  text\n",
        'escaped: "tab\\there"\n',
        "? complex\n: key\n",
        "merge: {<<: {a: 1}}\n",
        "huge: " + "9" * 5000 + "\n",
        "tab:\tvalue\n",
        "crlf: value\r\n",
        "nul: \x00\n",
        "bom: \ufeff\n",
        "line: \u2028\n",
        "[a, b]: flow key\n",
        "deep: " + "[" * 150 + "]" * 150 + "\n",
        "deeper: " + "- " * 60 + "x\n",
        "---\nsecond: document\n",
    ],
)
def test_forms_read_apart_are_left_to_the_exact_loader(snippet: str) -> None:
    text = large_suite(extra=snippet) if not snippet.startswith("---") else large_suite() + snippet
    fast, exact = read_both(text)
    assert fast is None or repr(plain(fast)) == repr(plain(exact))
    assert fast is None, snippet


@pytest.fixture
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let documents of any size take the fast path, so many small ones can be compared quickly."""
    monkeypatch.setattr(locations, "LARGE_YAML_CHARS", 0)


@pytest.mark.usefixtures("any_size")
def test_every_short_number_like_word_reads_as_pyyaml_reads_it() -> None:
    alphabet = "0123456789.-+_eExXoObB:"
    rng = random.Random(7)
    words = ["".join(p) for n in (1, 2) for p in itertools.product(alphabet, repeat=n)]
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randint(3, 7))) for _ in range(5000)]
    taken = 0
    for word in words:
        for line in (f"w: {word}\n", f"w: [{word}]\n", f"{word}: w\n"):
            taken += assert_same(line)
    assert taken > 100  # plain numbers do take it


MUTATIONS = [
    "yes",
    "no",
    "on",
    "~",
    "null",
    "true",
    "True",
    "FALSE",
    "0",
    "-1",
    "3.25",
    "017",
    "1e3",
    "1:20",
    "2024-01-01",
    "&x",
    "*x",
    "!!int",
    "|",
    ">",
    "- ",
    ": ",
    "? ",
    "#",
    "'",
    '"',
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "\n  ",
    "\n- ",
    "  ",
    "\t",
    "\\",
    "%",
    "@",
    "`",
    "=",
    "<<",
    "---",
    "...",
    "é",
    "\u2028",
    "\x85",
]


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(text))
        choice = rng.random()
        if choice < 0.6:
            text = text[:at] + rng.choice(MUTATIONS) + text[at:]
        elif choice < 0.8:
            text = text[:at] + text[at + rng.randint(1, 20) :]
        else:
            line_start = text.rfind("\n", 0, at) + 1
            line_end = text.find("\n", at)
            text = text[:line_start] + text[line_start:line_end] + "\n" + text[line_start:]
    return text


@pytest.mark.usefixtures("any_size")
def test_mutants_read_alike_or_go_to_the_exact_loader() -> None:
    rng = random.Random(20)
    base = large_suite(12)
    taken = 0
    for _ in range(3000):
        taken += assert_same(mutate(rng, base))
    assert taken > 300  # harmless mutants (inside quoted text, a comment) still take the fast path


def project_with(tmp_path: Path, suite: str) -> Any:
    from promptops.config import load_project

    (tmp_path / "prompts").mkdir()
    (tmp_path / "suites").mkdir()
    (tmp_path / "promptops.yaml").write_text("version: 1\nmodels: {default: openai/x}\n")
    (tmp_path / "prompts" / "triage.j2").write_text(
        "---\nversion: 1.0.0\ninputs:\n  ticket: {required: true}\n  priority: {default: 1}\n---\n"
        '{% role "user" %}{{ ticket }}{% endrole %}\n'
    )
    (tmp_path / "suites" / "big.yaml").write_text(suite)
    return load_project(tmp_path)


def suite_text(cases: int = 600) -> str:
    return large_suite(cases).replace("prompt: support/triage", "prompt: triage")


def load_both_ways(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """``load_suite``'s outcome (case lines, or the error) with the fast path, then without it."""
    from promptops.suites import load_suite

    project = project_with(tmp_path, text)
    outcomes = []
    for threshold in (locations.LARGE_YAML_CHARS, 10**12):
        monkeypatch.setattr(locations, "LARGE_YAML_CHARS", threshold)
        try:
            outcomes.append(load_suite(project, tmp_path / "suites" / "big.yaml").case_lines)
        except SuiteError as exc:
            outcomes.append(("error", exc.message, exc.file, exc.line))
    return outcomes


def test_a_large_suite_loads_the_same_either_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, exact = load_both_ways(tmp_path, suite_text(), monkeypatch)
    assert fast == exact and len(fast) == 600


@pytest.mark.parametrize(
    ("old", "new", "line"),
    [
        ("    tags: [billing, refund]\n", "    tags: [billing, refund]\n    colour: red\n", None),
        ("value: refund}", "value: refund, wrong: 1}", None),
        ("{type: contains,", "{type: containz,", None),
        ("priority: 450}", "priority: 450, undeclared: 1}", None),
        ("id: case-00450", "id: case-00449", None),
        ("vars: {ticket: 'I was charged twice for order 450, why?', priority: 450}", "vars: {}", None),
    ],
)
def test_mistakes_in_a_large_suite_name_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str, line: None
) -> None:
    text = suite_text()
    cut = text.index("  - id: case-00450")
    broken = text[:cut] + text[cut:].replace(old, new, 1)
    fast, exact = load_both_ways(tmp_path, broken, monkeypatch)
    assert isinstance(exact, tuple) and exact[3] is not None and exact[3] > 450 * 9
    assert fast == exact


def test_the_first_mistake_in_file_order_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = suite_text()
    # an unknown assertion type in case 200, then a duplicate id and an undeclared variable further down
    text = text.replace("{type: contains, value: refund}", "{type: containz, value: refund}", 201)
    text = text.replace("{type: containz, value: refund}", "{type: contains, value: refund}", 200)
    text = text.replace("id: case-00300", "id: case-00299").replace("priority: 400}", "priority: 400, x: 1}")
    fast, exact = load_both_ways(tmp_path, text, monkeypatch)
    assert fast == exact
    assert isinstance(exact, tuple) and "containz" in exact[1]
    assert exact[3] == text[: text.index("containz")].count("\n") + 1


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("id: case-02300", "id: case-02300\n    colour: red"),  # past the first batch of validated cases
        ("threshold: 0.9", "threshold: 2"),  # the suite's own key, after its cases were let go
        ("id: case-02300", "id: case-00007"),  # a duplicate far from the first
    ],
)
def test_mistakes_past_the_first_cases_name_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str
) -> None:
    text = suite_text(2500).replace(old, new, 1)
    fast, exact = load_both_ways(tmp_path, text, monkeypatch)
    assert isinstance(exact, tuple) and exact[3] is not None
    assert fast == exact
