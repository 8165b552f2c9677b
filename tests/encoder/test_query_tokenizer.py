"""The fast-loading query tokenizer gives the ``tokenizers`` library's ids, and says when it cannot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from hybridsearch.encoder import query_tokenizer

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TRICKY = ["", " ", "x", "  double  space ", "tab\there\nnew line", "emoji 😀🙈 and ½ ﬁ Ⅻ", "\u200bzero width",
          "<s>query</s> <unk><pad>", "a<s>b", "end ", "▁▁lead", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ﷽ ᚠᛇᚻ 🂡🂢", "\x00\x01ctrl",
          "日本語のテキスト", "ﾊﾝｶｸ", "Ǆemo", "\u202ertl", "     x", "ꙮꙮꙮ 𓀀𓀁 unknown runs",
          "когда была построена башня?", "Wann wurde der Turm gebaut?", "برج إيفل", "หอไอเฟล", "एफिल टावर"]


def xquad_texts(limit_per_file: int | None = None) -> list[str]:
    texts = []
    for f in sorted((DATA / "xquad-r").glob("*.json")):
        got = []
        for article in json.loads(f.read_text(encoding="utf-8"))["data"]:
            for para in article["paragraphs"]:
                got.append(para["context"])
                got += [q["question"] for q in para["qas"]]
        texts += got[:limit_per_file]
    return texts


@pytest.fixture(scope="module")
def pair(base_model_dir):
    path = base_model_dir / "tokenizer.json"
    lib = Tokenizer.from_file(str(path))
    lib.no_padding()
    lib.no_truncation()
    return lib, query_tokenizer.load(path)


def assert_same_ids(pair, texts):
    lib, fast = pair
    assert fast is not None
    for text in texts:
        for t in (text, "query: " + text):
            assert fast.encode(t) == lib.encode(t).ids, repr(t[:80])


def test_same_ids_as_the_library_on_tricky_text(pair):
    assert_same_ids(pair, TRICKY)


@pytest.mark.skipif(not (DATA / "xquad-r").is_dir(), reason="XQuAD-R data not present")
def test_same_ids_on_a_sample_of_xquad_in_eleven_languages(pair):
    texts = xquad_texts(limit_per_file=150)
    assert len(texts) > 1000
    assert_same_ids(pair, texts)


@pytest.mark.slow
def test_same_ids_on_every_xquad_and_flores_text(pair):
    texts = xquad_texts()
    for f in sorted((DATA / "parallel" / "flores").glob("*/*.tsv")):
        texts += f.read_text(encoding="utf-8").splitlines()
    assert_same_ids(pair, texts)


def test_the_cache_is_built_once_and_rebuilt_when_the_tokenizer_changes(tmp_path, base_model_dir):
    path = tmp_path / "tokenizer.json"
    path.write_bytes((base_model_dir / "tokenizer.json").read_bytes())
    root = tmp_path / "cache"
    first = query_tokenizer.load(path, root)
    built = query_tokenizer.cache_dir(path, root)
    assert first is not None and (built / query_tokenizer.META).is_file()
    assert [p.name for p in root.iterdir()] == [built.name]  # no temporary leftovers
    stamp = (built / query_tokenizer.META).stat().st_mtime_ns
    assert query_tokenizer.load(path, root).encode("hello") == first.encode("hello")
    assert (built / query_tokenizer.META).stat().st_mtime_ns == stamp  # read, not rebuilt
    os.utime(path, ns=(stamp + 10**9, stamp + 10**9))  # the model's tokenizer was replaced
    assert query_tokenizer.cache_dir(path, root) != built
    assert query_tokenizer.load(path, root) is not None
    assert [p.name for p in root.iterdir()] == [query_tokenizer.cache_dir(path, root).name]  # the old one went


def test_caches_of_gone_or_replaced_tokenizers_do_not_pile_up(tmp_path, base_model_dir):
    root = tmp_path / "cache"
    files = {}
    for name in ("kept", "removed", "next"):
        files[name] = tmp_path / name / "tokenizer.json"
        files[name].parent.mkdir()
        files[name].write_bytes((base_model_dir / "tokenizer.json").read_bytes())
    assert query_tokenizer.load(files["kept"], root) is not None
    assert query_tokenizer.load(files["removed"], root) is not None
    older = root / "0123456789abcdef"  # a cache of the previous layout (no source recorded)
    older.mkdir()
    (older / query_tokenizer.META).write_text(json.dumps({"unk_id": 3}))
    files["removed"].unlink()  # a model the user deleted
    assert query_tokenizer.load(files["next"], root) is not None
    left = sorted(p.name for p in root.iterdir())
    assert left == sorted(query_tokenizer.cache_dir(files[n], root).name for n in ("kept", "next"))
    assert query_tokenizer.load(files["kept"], root).encode("hello") == query_tokenizer.load(files["next"], root).encode("hello")


def test_a_half_written_cache_is_not_used(tmp_path, base_model_dir):
    path = tmp_path / "tokenizer.json"
    path.write_bytes((base_model_dir / "tokenizer.json").read_bytes())
    root = tmp_path / "cache"
    target = query_tokenizer.cache_dir(path, root)
    target.mkdir(parents=True)
    (target / query_tokenizer.PIECES).write_text("half", encoding="utf-8")  # killed before the marker
    fast = query_tokenizer.load(path, root)
    assert fast is not None and fast.encode("hello world") == Tokenizer.from_file(str(path)).encode("hello world").ids


def test_a_tokenizer_of_another_shape_is_left_to_the_library(tmp_path):
    wordpiece = Tokenizer(models.WordPiece({"[UNK]": 0, "a": 1}, unk_token="[UNK]"))
    wordpiece.pre_tokenizer = pre_tokenizers.Whitespace()
    path = tmp_path / "tokenizer.json"
    wordpiece.save(str(path))
    assert query_tokenizer.load(path, tmp_path / "cache") is None
    path.write_text("{ not json", encoding="utf-8")
    assert query_tokenizer.load(path, tmp_path / "cache") is None


def test_a_few_short_passages_do_not_wait_for_the_library_tokenizer(base_model_dir):
    """Sentence marks and a query's baseline encode a few short passages: the query tokenizer gives
    their ids (the same) instead of a 1-2 s load; indexing-sized work loads the library's."""
    from hybridsearch.encoder.runtime import FAST_TOKENIZER_CHARS, Encoder

    enc = Encoder(base_model_dir, device="cpu")
    few = [q for q in TRICKY if q.strip()][:10]
    ids = enc.tokenize(few, "passage")
    assert enc._tokenizer is None
    many = few * (FAST_TOKENIZER_CHARS // sum(map(len, few)) + 1)
    assert enc.tokenize(many, "passage")[:len(few)] == ids
    assert enc._tokenizer is not None
    assert [e.ids for e in enc.tokenizer.encode_batch(["passage: " + t for t in few])] == ids
