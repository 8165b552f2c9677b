"""The model card (``hybridsearch.json``): one schema, read and written here only.

Every model directory hybridsearch makes or loads carries a card: the converted base, a trained
overlay, the bundled model. Readers get a :class:`ModelCard`; unknown keys are kept in ``extra``
and written back unchanged, so a card written by a newer version survives a round trip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hybridsearch import atomic
from hybridsearch.errors import ModelError

CARD_FILE = "hybridsearch.json"


@dataclass
class ModelCard:
    """What a model is, how it was made and how it scored; ``extra`` keeps any other key."""

    name: str | None = None
    #: human description of the weights it starts from (``intfloat/multilingual-e5-small (MIT)``)
    base: str | None = None
    #: an overlay's base: the converted base by name, or a model directory of the user's
    base_model: str | None = None
    base_model_dir: str | None = None
    training: str | None = None
    data: str | None = None
    recipe: dict | None = None
    best_step: int | None = None
    dev_metrics: dict | None = None
    #: search takes this from the cosine of passages in the query's language (0..0.2)
    language_offset: float | None = None
    language_offset_data: str | None = None
    evaluation_data: str | None = None
    evaluation: list | None = None
    evaluation_note: str | None = None
    stored: str | None = None
    trained_from: dict | None = None
    converter_version: int | None = None
    pooling: str | None = None
    prefixes: dict | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})

    def to_dict(self) -> dict:
        """The card as JSON-able dict, without empty fields (the order of the fields above)."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out = {k: v for k, v in out.items() if v is not None}
        out.update(self.extra)
        return out

    # read access as a mapping, for code written against the card as a dict
    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()

    def __bool__(self) -> bool:
        return bool(self.to_dict())


def has_card(model_dir: str | Path) -> bool:
    return (Path(model_dir) / CARD_FILE).is_file()


def load_card(model_dir: str | Path) -> ModelCard:
    """The card of ``model_dir`` (an empty card if it has none); ModelError if it is unreadable."""
    path = Path(model_dir) / CARD_FILE
    if not path.is_file():
        return ModelCard()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model card {path} is unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"the model card {path} is not a JSON object")
    return ModelCard.from_dict(data)


def save_card(model_dir: str | Path, card: ModelCard | dict) -> Path:
    """Write the card atomically (a reader never sees half a file); returns its path."""
    data = card.to_dict() if isinstance(card, ModelCard) else {k: v for k, v in card.items() if v is not None}
    path = Path(model_dir) / CARD_FILE
    atomic.write_text(path, json.dumps(data, indent=2, ensure_ascii=False))
    return path


def read_card(model_dir: str | Path) -> dict:
    """The card as a plain dict (kept for callers written before :class:`ModelCard`)."""
    return load_card(model_dir).to_dict()


def write_card(model_dir: str | Path, card: ModelCard | dict) -> None:
    """Write a card given as a dict or a :class:`ModelCard` (kept for older callers)."""
    save_card(model_dir, card)
