"""Language identification: py3langid, its model cached once per machine as plain arrays.

py3langid LZMA-decompresses its 4.5 MB ``model.npz.xz`` (68 MB of arrays) every time a process
first classifies a text: about a second on an idle core, several under load, and a cold search
pays it to tag the query's language. The first process to need the model therefore writes the
decompressed arrays as ``.npy`` files (no pickles) under the cache directory, atomically; later
processes memory-map them (tens of milliseconds) and build the same
``py3langid.langid.LanguageIdentifier`` from them, so results are identical. The cache is keyed
by py3langid's version and its model file's size and mtime, so an upgrade rebuilds it; any error
while reading or writing it falls back to the package's own loader.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from hybridsearch import atomic, paths

log = logging.getLogger(__name__)

# the arrays of py3langid's model (py3langid.modelio.save_model), one .npy file each
_ARRAYS = ("ptc", "pc", "classes", "nextmove", "nextmove_row", "out_feat")
_TYPECODE = {2: "H", 4: "I", 8: "Q"}  # fixed sizes on every platform

_lock = threading.Lock()
_identifier = None


def _package_model() -> tuple[str, Path]:
    import py3langid
    from py3langid import langid

    model = Path(langid.MODEL_DIR) / langid.MODEL_FILE
    return getattr(py3langid, "__version__", "0"), model


def cache_path() -> Path:
    """This py3langid's cache folder: ``<cache>/py3langid/<version>-<model size>-<model mtime>``."""
    version, model = _package_model()
    st = model.stat()
    return paths.cache_dir() / "py3langid" / f"{version}-{st.st_size}-{st.st_mtime_ns}"


def _flat_ints(arr) -> memoryview:
    """An unsigned integer ndarray as the flat sequence of ints py3langid's DFA walk indexes.

    A view, not a copy (py3langid's loader copies into an ``array``): of a memory-mapped file only
    the pages a walk touches are read, where copying the 39 MB transition table took 0.3 s.
    """
    import numpy as np

    return memoryview(np.ascontiguousarray(arr)).cast("B").cast(_TYPECODE[arr.dtype.itemsize])


def _from_arrays(arrays: dict):
    import numpy as np
    from py3langid.langid import LanguageIdentifier

    return LanguageIdentifier(arrays["ptc"], np.array(arrays["pc"]), arrays["classes"].tolist(),
                              _flat_ints(arrays["nextmove"]), arrays["out_feat"].tolist(),
                              tk_row=_flat_ints(arrays["nextmove_row"]))


def _load_cached(folder: Path):
    import numpy as np

    arrays = {n: np.load(folder / f"{n}.npy", mmap_mode="r", allow_pickle=False) for n in _ARRAYS}
    return _from_arrays(arrays)


def _build_cache(folder: Path):
    """Decompress the package's model, write its arrays to ``folder`` atomically, return an identifier."""
    import lzma
    import os
    import shutil
    import tempfile

    import numpy as np

    _, model = _package_model()
    with tempfile.TemporaryFile(suffix=".npz") as tmp:
        with lzma.open(model) as src:
            shutil.copyfileobj(src, tmp, length=1 << 20)
        tmp.seek(0)
        with np.load(tmp, allow_pickle=False) as data:
            arrays = {n: data[n] for n in _ARRAYS}

    def write(d: Path) -> None:
        for name, arr in arrays.items():
            with open(d / f"{name}.npy", "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
                fh.flush()
                os.fsync(fh.fileno())

    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_dir(folder, write)
        for old in folder.parent.iterdir():  # caches of other py3langid versions
            if old.name != folder.name and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
    except OSError as exc:  # read-only cache, or another process swapping in the same folder
        log.debug("py3langid model cache not written: %s", exc)
    return _from_arrays(arrays)


def _load_identifier():
    try:
        folder = cache_path()
        if all((folder / f"{n}.npy").is_file() for n in _ARRAYS):
            try:
                return _load_cached(folder)
            except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt
                log.warning("py3langid model cache at %s unreadable (%s); rebuilding it", folder, exc)
        return _build_cache(folder)
    except Exception as exc:  # noqa: BLE001 - never worse than py3langid on its own
        log.warning("py3langid model cache unavailable (%s); using py3langid's loader", exc)
        from py3langid import langid

        return langid._get_identifier()


def identifier():
    """The shared ``py3langid.langid.LanguageIdentifier`` (loaded once per process, thread-safe)."""
    global _identifier
    if _identifier is None:
        with _lock:
            if _identifier is None:
                _identifier = _load_identifier()
    return _identifier


def preload() -> threading.Thread:
    """Start loading the identifier in a daemon thread (overlaps it with other start-up work)."""
    t = threading.Thread(target=identifier, name="langid-preload", daemon=True)
    t.start()
    return t


def classify(text: str) -> str:
    """The ISO 639-1 code py3langid gives ``text``."""
    return identifier().classify(text)[0]


#: py3langid's varieties of a language its other classes cover, as that language: Wu and Cantonese
#: Chinese (12 % of XQuAD-R's Chinese questions came out as Wu), Egyptian and Moroccan Arabic,
#: Ancient Hebrew and Greek, Nigerian Pidgin (lists of English names), Southern Uzbek. A library's
#: Chinese is one language in its filters and in ranking. "zxx" (no linguistic content) is None.
MACROLANGUAGE = {"wuu": "zh", "yue": "zh", "arz": "ar", "ary": "ar", "hbo": "he", "grc": "el", "pcm": "en",
                 "uzs": "uz", "zxx": None}


def detect(text: str) -> str | None:
    """ISO 639 code of ``text`` (py3langid; varieties as their language, :data:`MACROLANGUAGE`), or
    None for text with too few letters."""
    sample = text[:5000]
    if sum(ch.isalpha() for ch in sample[:400]) < 3:
        return None
    code = classify(sample)
    return MACROLANGUAGE.get(code, code)


@functools.lru_cache(maxsize=64)
def query_language(text: str) -> str | None:
    """The language of a query's text; the keyword side, the dense side and the highlighting all
    ask, so it is detected once per text."""
    return detect(text)
