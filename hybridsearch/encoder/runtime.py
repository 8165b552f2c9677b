"""The encoder runtime: ``Encoder.encode(texts, kind) -> float32 [n, dim]``, L2-normalised.

A model directory is either *standalone* (``config.json``, ``model.safetensors``,
``tokenizer.json``) or an *overlay* (``overlay.safetensors`` holding only the parameters that
training changed, plus ``hybridsearch.json`` naming its base): the overlay's tensors replace the
base model's at load time. Weights are read with safetensors only; no remote code is ever run.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hybridsearch.encoder import query_tokenizer
from hybridsearch.encoder.card import CARD_FILE as CARD, ModelCard, load_card, read_card, write_card  # noqa: F401
from hybridsearch.errors import InputError, ModelError

PREFIXES = {"query": "query: ", "passage": "passage: "}
OVERLAY = "overlay.safetensors"
#: Characters kept per text before tokenising; far beyond any max_length, it bounds the work a
#: megabyte-long string can cause (truncation happens at max_length tokens anyway).
MAX_CHARS_PER_TOKEN = 24


def pick_device(preference: str | None = None) -> str:
    """``auto``/None -> cuda, then mps, then cpu; otherwise the named device, checked."""
    import torch

    pref = (preference or "auto").lower()
    if pref == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if pref.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError("CUDA was requested but no CUDA GPU is available; use --device cpu")
    if pref == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ModelError("Apple MPS was requested but is not available; use --device cpu")
    return pref


#: The largest same-language offset a card may ask for (cosines of answers differ by ~0.01-0.1).
MAX_LANGUAGE_OFFSET = 0.2


def valid_language_offset(value) -> bool:
    """A number from 0 to MAX_LANGUAGE_OFFSET (the one check of the card, the API's callers and the CLI)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value <= MAX_LANGUAGE_OFFSET


def language_offset_option_error(value) -> str | None:
    """The CLI's message for a bad ``--language-offset`` value, else None."""
    return None if value is None or valid_language_offset(value) else \
        f"--language-offset must be from 0 to {MAX_LANGUAGE_OFFSET}"


def card_language_offset(card: dict, where) -> float:
    value = card.get("language_offset", 0.0) or 0.0
    if not valid_language_offset(value):
        raise ModelError(f"the model card of {where} has language_offset {value!r}; "
                         f"it must be a number from 0 to {MAX_LANGUAGE_OFFSET}")
    return float(value)


@dataclass
class ModelFiles:
    """The files that make up a loadable model: where weights, config and tokenizer come from."""

    weights_dir: Path          # has config.json, model.safetensors, tokenizer.json
    overlay: Path | None       # optional overlay.safetensors applied on top
    card: dict                 # the model card as a dict (``model_card`` is the typed one)

    @property
    def model_card(self) -> ModelCard:
        return ModelCard.from_dict(self.card)

    @property
    def name(self) -> str:
        return self.card.get("name") or (self.overlay.parent.name if self.overlay else self.weights_dir.name)


def model_files(model_dir: str | Path) -> ModelFiles:
    """Work out which files to load for ``model_dir``, with clear errors for what is missing."""
    d = Path(model_dir)
    if not d.is_dir():
        raise ModelError(f"model directory not found: {d}")
    card = load_card(d).to_dict()
    if (d / OVERLAY).is_file() and not (d / "model.safetensors").is_file():
        from hybridsearch.encoder.convert import BASE_NAME, converted_base_dir

        if card.get("base_model_dir"):  # an overlay on a model directory of the user's
            base_dir = model_files(card["base_model_dir"])
            if base_dir.overlay is not None:
                raise ModelError(f"{d} is an overlay on another overlay; train from a full model")
            return ModelFiles(base_dir.weights_dir, d / OVERLAY, card)
        base = card.get("base_model", BASE_NAME)
        if base != BASE_NAME:
            raise ModelError(f"{d} is an overlay on '{base}', but only {BASE_NAME} overlays are supported")
        return ModelFiles(converted_base_dir(), d / OVERLAY, card)
    if (d / "pytorch_model.bin").is_file() and not (d / "model.safetensors").is_file():
        raise ModelError(f"{d} holds pickled weights (pytorch_model.bin); hybridsearch loads only "
                         "model.safetensors. Convert the model to safetensors first.")
    for needed in ("config.json", "model.safetensors", "tokenizer.json"):
        if not (d / needed).is_file():
            raise ModelError(f"{d} is not a model directory: {needed} is missing")
    return ModelFiles(d, None, card)


def read_config(weights_dir: Path) -> dict:
    """The model's ``config.json`` as a dict (read without transformers)."""
    path = Path(weights_dir) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model configuration {path} is unreadable: {exc}") from exc
    if not isinstance(config, dict) or not isinstance(config.get("hidden_size"), int):
        raise ModelError(f"the model configuration {path} has no hidden_size; is it a BERT-like model?")
    return config


def bert_parameter_shapes(config: dict) -> dict[str, tuple[int, ...]] | None:
    """Every parameter a BERT encoder of ``config`` needs, with its shape (None: not a BERT config)."""
    if config.get("model_type") != "bert":
        return None
    h, f = int(config["hidden_size"]), int(config["intermediate_size"])
    shapes = {"embeddings.word_embeddings.weight": (int(config["vocab_size"]), h),
              "embeddings.position_embeddings.weight": (int(config["max_position_embeddings"]), h),
              "embeddings.token_type_embeddings.weight": (int(config.get("type_vocab_size", 2)), h),
              "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
    per_layer = {"attention.self.query": (h, h), "attention.self.key": (h, h), "attention.self.value": (h, h),
                 "attention.output.dense": (h, h), "intermediate.dense": (f, h), "output.dense": (h, f)}
    for i in range(int(config["num_hidden_layers"])):
        pre = f"encoder.layer.{i}."
        for name, shape in per_layer.items():
            shapes[pre + name + ".weight"] = shape
            shapes[pre + name + ".bias"] = (shape[0],)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[pre + norm + ".weight"] = (h,)
            shapes[pre + norm + ".bias"] = (h,)
    return shapes


def _tensor_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the tensors in a safetensors file (its header only), or ModelError."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="numpy") as f:
            shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise ModelError(f"the model file {path} is damaged or incomplete ({exc}); "
                         "copy it again or re-train the model") from exc
    if not shapes:
        raise ModelError(f"the model file {path} holds no tensors; copy it again or re-train the model")
    return shapes


def check_weights(files: ModelFiles) -> None:
    """Refuse weights that would load as random ones: empty, truncated, missing or misshapen tensors.

    Reads the safetensors headers only (fast). Raises ModelError naming the file and what is wrong.
    """
    expected = bert_parameter_shapes(read_config(files.weights_dir))
    weights = files.weights_dir / "model.safetensors"
    have = {k.removeprefix("bert."): v for k, v in _tensor_shapes(weights).items()}
    if expected is not None:
        missing = [k for k in expected if k not in have]
        if missing:
            raise ModelError(f"the model file {weights} lacks {len(missing)} of its tensors "
                             f"({', '.join(missing[:2])}...); copy it again or re-train the model")
        wrong = [k for k, shape in expected.items() if have[k] != shape]
        if wrong:
            raise ModelError(f"the model file {weights} does not fit its config.json "
                             f"({wrong[0]} is {have[wrong[0]]}, expected {expected[wrong[0]]})")
    if files.overlay is not None:
        over = _tensor_shapes(files.overlay)
        base = expected or have
        unknown = [k for k in over if k not in base]
        if unknown:
            raise ModelError(f"{files.overlay} does not fit its base model (unknown {unknown[:2]})")
        wrong = [k for k, shape in over.items() if base[k] != shape]
        if wrong:
            raise ModelError(f"{files.overlay} does not fit its base model "
                             f"({wrong[0]} is {over[wrong[0]]}, expected {base[wrong[0]]})")


def token_limit(model, wanted: int = 512) -> int:
    """Tokens per text for ``model``: ``wanted``, but never more than its position table holds."""
    return min(int(wanted), int(getattr(model.config, "max_position_embeddings", wanted)))


def load_bert(files: ModelFiles):
    """Build the transformers model and the tokenizer for ``files`` (safetensors only)."""
    import torch
    from safetensors.torch import load_file
    from tokenizers import Tokenizer
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a bar per model load is noise in the CLI and the logs
    check_weights(files)  # transformers would fill missing tensors with random values, silently
    d = files.weights_dir
    try:
        config = AutoConfig.from_pretrained(str(d), trust_remote_code=False)
        # dtype: weights stored as float16 (the packaged base model) are computed in float32
        model = AutoModel.from_pretrained(str(d), config=config, use_safetensors=True, dtype=torch.float32,
                                          trust_remote_code=False, add_pooling_layer=False)
    except TypeError:  # models without a pooler argument (for example DistilBERT)
        model = AutoModel.from_pretrained(str(d), use_safetensors=True, trust_remote_code=False,
                                          dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load the model in {d}: {exc}") from exc
    if files.overlay is not None:
        try:
            overlay = load_file(str(files.overlay))
        except Exception as exc:  # safetensors raises its own error types for damaged files
            raise ModelError(f"the model file {files.overlay} is damaged: {exc}") from exc
        own = model.state_dict()
        unknown = [k for k in overlay if k not in own]
        if unknown:
            raise ModelError(f"{files.overlay} does not fit its base model (unknown {unknown[:2]})")
        with torch.no_grad():
            for k, v in overlay.items():
                own[k].copy_(v.to(own[k].dtype))
    try:
        tokenizer = Tokenizer.from_file(str(d / "tokenizer.json"))
    except Exception as exc:
        raise ModelError(f"the tokenizer in {d} is unreadable: {exc}") from exc
    return model, tokenizer


def model_identity(files: ModelFiles) -> str:
    """A short stable id for the weights: changes whenever the vectors would change."""
    h = hashlib.sha256()
    for p in (files.weights_dir / "config.json", files.weights_dir / "model.safetensors", files.overlay):
        if p is None:
            continue
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}".encode())
        with open(p, "rb") as f:  # the header and first block pin the content cheaply
            h.update(f.read(1 << 20))
    return f"{files.name}-{h.hexdigest()[:12]}"


def truncate_ids(ids: list[int], limit: int) -> list[int]:
    """Token ids cut to ``limit``, keeping the closing special token (search and training alike)."""
    return ids if len(ids) <= limit else ids[:limit - 1] + ids[-1:]


def clean_texts(texts, max_chars: int) -> list[str]:
    """Validate ``texts`` and make each one safe to tokenise; raise InputError on wrong types."""
    if texts is None:
        raise InputError("texts must be a string or a list of strings, not None")
    if isinstance(texts, (str, bytes)):
        texts = [texts]
    try:
        items = list(texts)
    except TypeError:
        raise InputError(f"texts must be a string or a list of strings, not {type(texts).__name__}") from None
    out = []
    for i, t in enumerate(items):
        if isinstance(t, bytes):
            t = t.decode("utf-8", errors="replace")
        if not isinstance(t, str):
            raise InputError(f"texts[{i}] is {type(t).__name__}, not a string")
        t = t[:max_chars]
        # lone surrogates cannot be encoded as UTF-8: replace them instead of failing later
        t = t.encode("utf-8", errors="replace").decode("utf-8")
        out.append(t)
    return out


#: Text (characters in one call) that the query tokenizer takes while the ``tokenizers`` one is not
#: loaded: a few short passages (a sentence's marks, a query's baseline) then wait neither for its
#: 1-2 s load nor much longer than it would take them (~30 ms per 10,000 characters).
FAST_TOKENIZER_CHARS = 20_000


class TextEncoder:
    """What every engine shares: the model's files and card, tokenising with the e5 prefixes, batching.

    An engine implements ``_forward(token id lists) -> float32 [n, dim]`` (pooled, L2-normalised).
    """

    engine = "?"

    def __init__(self, files: ModelFiles, model_dir: Path, max_length: int, batch_size: int):
        self.files = files
        self.model_dir = Path(model_dir)
        #: the card's same-language offset: search takes it from the cosine of every passage in
        #: the query's language (0 = rank by cosine alone); see ``trainer.evaluate``
        self.language_offset = card_language_offset(files.card, self.model_dir)
        config = read_config(files.weights_dir)
        self.max_length = min(int(max_length), int(config.get("max_position_embeddings", max_length)))
        self.batch_size = int(batch_size)
        self.dim = int(config["hidden_size"])
        self.pad_id = int(config.get("pad_token_id") or 0)
        #: queries: the same ids from a tokenizer that loads in milliseconds (None: this model's
        #: tokenizer has another shape, and the ``tokenizers`` one answers)
        self.query_tokenizer = query_tokenizer.load(files.weights_dir / "tokenizer.json")
        self._tokenizer = None
        self._tokenizer_lock = threading.Lock()  # indexing and sentence marking may both ask first
        if self.query_tokenizer is None:
            self.tokenizer  # load it now: a damaged tokenizer file is reported when the model loads
        #: fp32 engines give the same vectors (cosine >= 0.9999), so they share the identity
        self.identity = model_identity(files)

    @property
    def tokenizer(self):
        """The ``tokenizers`` tokenizer (passages, chunking), loaded on first use: it takes 1-2 s."""
        with self._tokenizer_lock:
            if self._tokenizer is None:
                from tokenizers import Tokenizer

                try:
                    tok = Tokenizer.from_file(str(self.files.weights_dir / "tokenizer.json"))
                except Exception as exc:
                    raise ModelError(f"the tokenizer in {self.files.weights_dir} is unreadable: {exc}") from exc
                tok.no_padding()
                tok.no_truncation()
                self._tokenizer = tok
            return self._tokenizer

    @property
    def name(self) -> str:
        return self.files.name

    @property
    def card(self) -> dict:
        return self.files.card

    def tokenize(self, texts: Sequence[str], kind: str, max_length: int | None = None) -> list[list[int]]:
        """Token ids (with special tokens) per text, prefix added, truncated to ``max_length``."""
        if kind not in PREFIXES:
            raise InputError(f"kind must be 'query' or 'passage', not {kind!r}")
        limit = min(max_length or self.max_length, self.max_length)
        prefix = PREFIXES[kind]
        items = clean_texts(texts, limit * MAX_CHARS_PER_TOKEN)
        fast = self.query_tokenizer  # the same ids; a speed choice only
        if fast is not None and (kind == "query" or (self._tokenizer is None
                                                     and sum(map(len, items)) <= FAST_TOKENIZER_CHARS)):
            return [truncate_ids(fast.encode(prefix + t), limit) for t in items]
        return [truncate_ids(e.ids, limit) for e in self.tokenizer.encode_batch([prefix + t for t in items])]

    def count_tokens(self, texts: Sequence[str], kind: str = "passage") -> list[int]:
        return [len(i) for i in self.tokenize(texts, kind)]

    def encode(self, texts, kind: str = "passage", batch_size: int | None = None,
               max_length: int | None = None, sort: bool = True,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Encode ``texts`` (a string or a list of strings) -> float32 [n, dim], L2-normalised.

        Batches are formed from texts of similar length (``sort=True``) so little is padded.
        ``progress(done, total)`` is called after each batch.
        """
        ids = self.tokenize(texts, kind, max_length)
        n = len(ids)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        order = np.argsort([len(x) for x in ids], kind="stable") if sort else np.arange(n)
        bs = int(batch_size or self.batch_size)
        for start in range(0, n, bs):
            idx = order[start:start + bs]
            out[idx] = self._forward([ids[i] for i in idx])
            if progress:
                progress(min(start + bs, n), n)
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        raise NotImplementedError


class Encoder(TextEncoder):
    """The torch runtime (training, export, fallback): mean pooling over the mask, L2-normalised."""

    engine = "torch"

    def __init__(self, model_dir: str | Path, device: str | None = None, threads: int | None = None,
                 max_length: int = 512, batch_size: int = 32):
        import torch

        files = model_files(model_dir)
        super().__init__(files, Path(model_dir), max_length, batch_size)
        if threads:
            torch.set_num_threads(int(threads))
        self.device = pick_device(device)
        self.model, _ = load_bert(self.files)
        self.model.eval().to(self.device)

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            return self.embed_batch(batch).float().cpu().numpy()

    def embed_batch(self, batch: list[list[int]]):
        """Differentiable pooled, normalised embeddings for token id lists (used by the trainer)."""
        return embed_ids(self.model, batch, self.pad_id, self.device)


def padded_batch(batch: list[list[int]], pad_id: int, device="cpu"):
    """Token id lists -> (input_ids, attention_mask), long tensors [n, longest] on ``device``."""
    import torch

    width = max(len(x) for x in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for r, x in enumerate(batch):
        input_ids[r, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[r, :len(x)] = 1
    return input_ids.to(device), mask.to(device)


def embed_ids(model, batch: list[list[int]], pad_id: int, device):
    """Pad ``batch``, run ``model``, mean-pool over the mask and L2-normalise -> tensor [n, dim]."""
    import torch

    input_ids, mask = padded_batch(batch, pad_id, device)
    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return torch.nn.functional.normalize(pooled.float(), dim=-1)
