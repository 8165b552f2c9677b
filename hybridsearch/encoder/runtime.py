"""The encoder runtime: ``Encoder.encode(texts, kind) -> float32 [n, dim]``, L2-normalised.

A model directory is either *standalone* (``config.json``, ``model.safetensors``,
``tokenizer.json``) or an *overlay* (``overlay.safetensors`` holding only the parameters that
training changed, plus ``hybridsearch.json`` naming its base): the overlay's tensors replace the
base model's at load time. Weights are read with safetensors only; no remote code is ever run.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from hybridsearch.errors import InputError, ModelError

PREFIXES = {"query": "query: ", "passage": "passage: "}
CARD = "hybridsearch.json"
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


def read_card(model_dir: Path) -> dict:
    path = Path(model_dir) / CARD
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model card {path} is unreadable: {exc}") from exc


def write_card(model_dir: Path, card: dict) -> None:
    """Write a model card atomically (a reader never sees half a file)."""
    tmp = Path(model_dir) / f".{CARD}.tmp"
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, Path(model_dir) / CARD)


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
    card: dict

    @property
    def name(self) -> str:
        return self.card.get("name") or (self.overlay.parent.name if self.overlay else self.weights_dir.name)


def model_files(model_dir: str | Path) -> ModelFiles:
    """Work out which files to load for ``model_dir``, with clear errors for what is missing."""
    d = Path(model_dir)
    if not d.is_dir():
        raise ModelError(f"model directory not found: {d}")
    card = read_card(d)
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


class Encoder:
    """Sentence encoder: mean pooling over the attention mask, L2-normalised, e5 prefixes."""

    def __init__(self, model_dir: str | Path, device: str | None = None, threads: int | None = None,
                 max_length: int = 512, batch_size: int = 32):
        import torch

        self.files = model_files(model_dir)
        self.model_dir = Path(model_dir)
        #: the card's same-language offset: search takes it from the cosine of every passage in
        #: the query's language (0 = rank by cosine alone); see ``trainer.evaluate``
        self.language_offset = card_language_offset(self.files.card, self.model_dir)
        if threads:
            torch.set_num_threads(int(threads))
        self.device = pick_device(device)
        self.model, self.tokenizer = load_bert(self.files)
        self.model.eval().to(self.device)
        self.max_length = token_limit(self.model, max_length)
        self.batch_size = int(batch_size)
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        self.dim = int(self.model.config.hidden_size)
        self.pad_id = int(getattr(self.model.config, "pad_token_id", None) or 0)
        self.identity = model_identity(self.files)

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
        encs = self.tokenizer.encode_batch([prefix + t for t in items])
        out = []
        for e in encs:
            ids = e.ids
            if len(ids) > limit:  # keep the closing special token
                ids = ids[:limit - 1] + ids[-1:]
            out.append(ids)
        return out

    def count_tokens(self, texts: Sequence[str], kind: str = "passage") -> list[int]:
        return [len(i) for i in self.tokenize(texts, kind)]

    def encode(self, texts, kind: str = "passage", batch_size: int | None = None,
               max_length: int | None = None, sort: bool = True,
               progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Encode ``texts`` (a string or a list of strings) -> float32 [n, dim], L2-normalised.

        Batches are formed from texts of similar length (``sort=True``) so little is padded.
        ``progress(done, total)`` is called after each batch.
        """
        import torch

        ids = self.tokenize(texts, kind, max_length)
        n = len(ids)
        out = np.zeros((n, self.dim), dtype=np.float32)
        if n == 0:
            return out
        order = np.argsort([len(x) for x in ids], kind="stable") if sort else np.arange(n)
        bs = int(batch_size or self.batch_size)
        with torch.inference_mode():
            for start in range(0, n, bs):
                idx = order[start:start + bs]
                out[idx] = self._forward([ids[i] for i in idx])
                if progress:
                    progress(min(start + bs, n), n)
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        import torch

        vecs = self.embed_batch(batch)
        return vecs.float().cpu().numpy()

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
