"""The readers beside the QA formats (MLQA-style sets, Mintaka, line-aligned text, FLORES, TMX)
and bad QA files: each is a line-numbered problem from ``data check``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hybridsearch.cli import main
from hybridsearch.errors import DataError
from trainer.qa import load_pair_sets, load_parallel_qa

REPO = Path(__file__).resolve().parents[2]
PARALLEL = REPO.parent / "shared" / "data" / "parallel"
XQUAD_DIR = REPO.parent / "shared" / "data" / "xquad-r"
needs_parallel = pytest.mark.skipif(not PARALLEL.is_dir(), reason="../shared/data/parallel is not here")


def squad(paragraphs) -> dict:
    return {"version": "1.0", "data": [{"paragraphs": paragraphs}]}


def para(context, *qas) -> dict:
    return {"context": context, "qas": [{"id": i, "question": q, "answers": [{"answer_start": 0, "text": ""}]}
                                        for i, q in qas]}


def dump(path: Path, obj, indent=1) -> Path:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=indent), encoding="utf-8")
    return path


def problems(spec) -> list[tuple[int, str]]:
    with pytest.raises(DataError) as info:
        load_pair_sets(spec)
    assert info.value.problems, str(info.value)
    return info.value.problems


def by_kind(pair_sets):
    return {ps.kind: ps for ps in pair_sets}


# ------------------------------------------------------------------------------------------ MLQA

def test_mlqa_rows_are_grouped_by_question_id_and_the_positive_is_the_paragraph(tmp_path):
    d = tmp_path / "mlqa"
    d.mkdir()
    dump(d / "test-context-de-question-es.json", squad([para("Der Rhein ist lang.", ("q1", "¿Es largo el Rin?"),
                                                             ("q2", "¿Qué río?"))]))
    dump(d / "test-context-es-question-de.json", squad([para("El Rin es largo.", ("q1", "Ist der Rhein lang?"))]))
    kinds = by_kind(load_pair_sets(d))
    qp = kinds["qa-paragraph"]
    assert qp.left["q1"] == {"es": "¿Es largo el Rin?", "de": "Ist der Rhein lang?"}
    assert qp.right["q1"] == {"de": "Der Rhein ist lang.", "es": "El Rin es largo."}
    # q1 has a question and a paragraph in de and in es: two X-X pairs; q2 only X-Y (es -> de)
    assert qp.language_pairs("q1", same=True) == [("de", "de"), ("es", "es")]
    assert qp.language_pairs("q2") == [("es", "de")]
    # two questions on one paragraph are one id group (each would be the other's false negative)
    assert qp.group["q1"] == qp.group["q2"]
    qq = kinds["question-question"]
    assert list(qq.left) == ["q1"]  # q2 is asked in one language only


@needs_parallel
def test_the_shared_mlqa_test_copy_loads():
    kinds = by_kind(load_pair_sets(PARALLEL / "mlqa-test"))
    assert len(kinds["qa-paragraph"].left) == 9677
    assert len(kinds["question-question"].left) == 8276  # ids asked in >= 2 languages (README)
    assert kinds["qa-paragraph"].languages == ["ar", "de", "es", "hi", "vi", "zh"]


def test_mlqa_wrong_shapes_are_line_numbered(tmp_path):
    d = tmp_path / "mlqa"
    d.mkdir()
    doc = squad([para("Kontext.", ("q1", "Frage?")),
                 {"context": "Kontext zwei.", "qas": [{"id": "q2"}]},        # no question
                 {"context": 7, "qas": []}])                                 # context a number
    text = json.dumps(doc, indent=1)
    (d / "dev-context-de-question-es.json").write_text(text, encoding="utf-8")
    found = problems(d)
    assert len(found) == 2
    lines = text.splitlines()
    for _, msg in found:
        assert msg.startswith("dev-context-de-question-es.json line ")
        n = int(msg.split(" line ")[1].split(":")[0])
        assert ('"qas"' in lines[n - 1] or '"id": "q2"' in lines[n - 1] or "{" in lines[n - 1]
                or '"context": 7' in lines[n - 1])
    assert any('field "question" is missing' in m for _, m in found)
    assert any('field "context" must be a string, not a number' in m for _, m in found)


# --------------------------------------------------------------------------------------- Mintaka

def test_mintaka_translations_are_question_pairs(tmp_path):
    f = dump(tmp_path / "mintaka.json", [
        {"id": "a1", "question": "Who wrote Dune?", "translations": {"de": "Wer schrieb Dune?", "es": "¿Quién escribió Dune?"}},
        {"id": "a2", "question": "How tall is K2?", "translations": {"ar": "ما ارتفاع كي 2؟"}}])
    (qq,) = load_pair_sets(f)
    assert qq.kind == "question-question" and qq.symmetric
    assert qq.left["a1"]["en"] == "Who wrote Dune?" and qq.left["a2"]["ar"] == "ما ارتفاع كي 2؟"
    assert ("en", "en") not in qq.language_pairs("a1")  # a question is never its own positive
    assert qq.summary()["xy_pairs"] == 3 * 2 + 2 * 1


def test_mintaka_problems_name_the_line_of_their_question(tmp_path):
    items = [{"id": "a1", "question": "Q?", "translations": {"de": "F?"}},
             {"id": "a2", "question": None, "translations": {"de": "F?"}},
             {"id": "a3", "question": "Q?", "translations": {"klingon": "x"}}]
    text = json.dumps(items, indent=1)
    (tmp_path / "m.json").write_text(text, encoding="utf-8")
    found = dict(problems(tmp_path / "m.json"))
    lines = text.splitlines()
    assert set(found) == {next(n for n, l in enumerate(lines, 1) if '"a2"' in l) - 1,
                          next(n for n, l in enumerate(lines, 1) if '"klingon"' in l) - 1}
    assert any("unknown language code" in m for m in found.values())


@needs_parallel
def test_the_shared_mintaka_file_loads():
    (qq,) = load_pair_sets(PARALLEL / "mintaka" / "mintaka_dev_v1.0.json")
    assert len(qq.left) == 2000 and {"en", "ar", "de", "es", "hi"} <= set(qq.languages)


# ------------------------------------------------------------------------------ line-aligned, FLORES

def test_line_aligned_files_make_bitext_and_unequal_lengths_are_refused(tmp_path):
    d = tmp_path / "news"
    d.mkdir()
    (d / "ref.eng-US.txt").write_text("One.\nTwo.\nThree.\n", encoding="utf-8")
    (d / "ref.deu.txt").write_text("Eins.\n\nDrei.\n", encoding="utf-8")   # line 2 left out in German
    (d / "ref.zho-CN.txt").write_text("一。\n二。\n三。\n", encoding="utf-8")
    (bt,) = load_pair_sets(d)
    assert bt.kind == "bitext" and bt.languages == ["de", "en", "zh"]
    assert bt.left["2"] == {"en": "Two.", "zh": "二。"}
    assert bt.left["3"]["de"] == "Drei."
    (d / "ref.deu.txt").write_text("Eins.\nDrei.\n", encoding="utf-8")      # a dropped line: misaligned
    (msg,) = [m for _, m in problems(d)]
    assert "same number of lines" in msg and "ref.deu.txt 2" in msg


def test_flores_reads_one_split_and_names_bad_lines(tmp_path):
    for name, rows in (("deu_Latn", ["1\tx\tEins.", "2\tx\tZwei."]), ("eng_Latn", ["1\tx\tOne.", "2\tx\tTwo."])):
        (tmp_path / "fl" / name).mkdir(parents=True)
        (tmp_path / "fl" / name / "train.tsv").write_text("index_id\tcategory\ttext\n" + "\n".join(rows) + "\n")
        (tmp_path / "fl" / name / "test.tsv").write_text("index_id\tcategory\ttext\n9\tx\tHeld out.\n")
    (bt,) = load_pair_sets(tmp_path / "fl")
    assert sorted(bt.left) == ["1", "2"]  # train by default: the test split stays out
    (bt,) = load_pair_sets(f"{tmp_path / 'fl'}#test")
    assert list(bt.left) == ["9"]
    (tmp_path / "fl" / "deu_Latn" / "train.tsv").write_text("index_id\tcategory\ttext\n1\tx\tEins.\n1\tx\tNoch eins.\n")
    (msg,) = [m for _, m in problems(tmp_path / "fl")]
    assert msg.startswith("deu_Latn/train.tsv line 3:") and "appears twice" in msg


@needs_parallel
def test_the_shared_bitext_loads_with_test_held_apart():
    (flores,) = load_pair_sets(PARALLEL / "flores")
    (test,) = load_pair_sets(f"{PARALLEL / 'flores'}#test")
    assert len(test.left) == 204 and len(test.languages) == 11
    assert not set(flores.left) & set(test.left)
    (ntrex,) = load_pair_sets(PARALLEL / "ntrex")
    assert len(ntrex.left) == 1997 and len(ntrex.languages) == 11


# ------------------------------------------------------------------------------------------- TMX

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4">
  <header srclang="en" datatype="plaintext" segtype="sentence" adminlang="en" o-tmf="x" creationtool="t" creationtoolversion="1"/>
  <body>
    <tu tuid="7">
      <tuv xml:lang="en-US"><seg>Press <bpt i="1">&lt;b&gt;</bpt>Save<ept i="1">&lt;/b&gt;</ept> &amp; quit.</seg></tuv>
      <tuv xml:lang="de-DE"><seg>Drücken Sie Speichern &amp; beenden.</seg></tuv>
    </tu>
    <tu>
      <tuv xml:lang="en"><seg>Only one language.</seg></tuv>
    </tu>
  </body>
</tmx>
"""


def test_tmx_units_become_bitext_and_a_unit_in_one_language_is_a_line(tmp_path):
    f = tmp_path / "memory.tmx"
    f.write_text(TMX, encoding="utf-8")
    found = problems(f)
    assert found == [(9, '<tu> "tu2" has text in 1 language; a translation unit needs two')]
    f.write_text(TMX.replace('<tuv xml:lang="en"><seg>Only one language.</seg></tuv>',
                             '<tuv xml:lang="en"><seg>Hello.</seg></tuv><tuv xml:lang="es"><seg>Hola.</seg></tuv>'))
    (bt,) = load_pair_sets(f)
    # inline codes (<bpt>, <ept>) are not text; entities are decoded; regions map to the language
    assert bt.left["7"] == {"en": "Press Save & quit.", "de": "Drücken Sie Speichern & beenden."}
    assert bt.left["tu2"] == {"en": "Hello.", "es": "Hola."}


def test_tmx_entity_expansion_and_broken_xml_are_refused_with_a_line(tmp_path):
    bomb = ('<?xml version="1.0"?>\n<!DOCTYPE tmx [\n <!ENTITY a "aaaaaaaaaa">\n <!ENTITY b "&a;&a;&a;&a;&a;&a;">\n]>\n'
            "<tmx><body><tu><tuv xml:lang='en'><seg>&b;</seg></tuv></tu></body></tmx>\n")
    (tmp_path / "bomb.tmx").write_text(bomb)
    (n, msg), = problems(tmp_path / "bomb.tmx")
    assert n == 2 and "DTD" in msg
    (tmp_path / "broken.tmx").write_text(TMX.replace("</tu>\n    <tu>", "</tu>\n    <tu"))
    (n, msg), = problems(tmp_path / "broken.tmx")
    assert n == 10 and "not well-formed XML" in msg  # the <tuv> inside the unclosed <tu ...


# ------------------------------------------------------------------- bad QA files

def check(path, capsys) -> str:
    assert main(["data", "check", str(path)]) == 2
    return capsys.readouterr().out


def test_deeply_nested_json_is_a_line_numbered_problem(tmp_path, capsys):
    good = '{"id": "1", "lang": "en", "question": "Q?", "answer": "A."}\n'
    (tmp_path / "deep.jsonl").write_text(good + '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    assert "line 2: JSON nested too deeply" in check(tmp_path / "deep.jsonl", capsys)
    deep = '{"data": [\n' + "[" * 100_000 + "]" * 100_000 + "\n]}"
    (tmp_path / "en.json").write_text(deep)
    out = check(tmp_path / "en.json", capsys)
    assert "line 2: JSON nested more than 64 levels deep" in out


@pytest.mark.parametrize("doc, line_has, message", [
    ({"data": {"paragraphs": []}}, '"data"', 'field "data" must be a list, not an object'),
    ({"data": [{"title": "no paragraphs"}]}, "{", 'data[0]: field "paragraphs" is missing'),
    ({"data": [{"paragraphs": [{"context": "C.", "sentences": ["C."], "sentence_breaks": [[0, 2]],
                                "qas": [{"id": "1", "question": "Q?", "answers": []}]}]}]},
     '"answers"', "needs at least one answer"),
    ({"data": [{"paragraphs": [{"context": "C.", "sentences": ["C.", "D."], "sentence_breaks": [[0, 2]],
                                "qas": []}]}]}, '"sentence_breaks"', "one [start, end] pair"),
    (["not", "squad"], "", "expected"),
])
def test_xquad_shaped_json_with_the_wrong_shape(tmp_path, capsys, doc, line_has, message):
    text = json.dumps(doc, indent=1) if isinstance(doc, dict) else '{"data": 1, "x": ' + json.dumps(doc) + "}"
    (tmp_path / "en.json").write_text(text)
    out = check(tmp_path / "en.json", capsys)
    assert message in out or (not isinstance(doc, dict) and "must be a list" in out)
    n = int(out.split("\n")[1].strip().split(":")[0].split()[1])
    assert line_has in text.splitlines()[n - 1]


@pytest.mark.skipif(not XQUAD_DIR.is_dir(), reason="XQuAD-R is not here")
def test_plain_xquad_file_in_an_xquad_r_folder_is_named_not_a_crash(tmp_path, capsys, tiny_model_dir):
    folder = tmp_path / "xquad-r"
    folder.mkdir()
    for lang in ("de", "en"):
        (folder / f"{lang}.json").write_bytes((XQUAD_DIR / f"{lang}.json").read_bytes())
    plain = json.loads((XQUAD_DIR / "es.json").read_text(encoding="utf-8"))
    for art in plain["data"]:
        for p in art["paragraphs"]:
            del p["sentences"], p["sentence_breaks"]  # what XQuAD itself looks like
    dump(folder / "es.json", plain)
    assert main(["evaluate", str(tiny_model_dir), str(folder), "--articles", "28-29"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"es\.json line \d+: data\[28\]\.paragraphs\[0\]: no \"sentences\"", err)
    assert "not XQuAD-R" in err


def test_a_lone_surrogate_is_refused_by_data_check(tmp_path, capsys):
    rows = ['{"id": "1", "lang": "en", "question": "Why \\ud83d?", "answer": "A."}',
            '{"id": "1", "lang": "de", "question": "Warum?", "answer": "A."}']
    (tmp_path / "s.jsonl").write_text("\n".join(rows) + "\n")
    out = check(tmp_path / "s.jsonl", capsys)
    assert 'line 1: field "question" holds an unpaired surrogate \\ud83d' in out
    mintaka = [{"id": "a", "question": "Q?", "translations": {"de": "F\ud800?"}}]
    (tmp_path / "m.json").write_text(json.dumps(mintaka))  # json.dumps escapes it as \ud800
    assert "unpaired surrogate" in check(tmp_path / "m.json", capsys)


def test_data_check_says_what_pairs_a_file_allows(tmp_path, capsys):
    (tmp_path / "t.tmx").write_text(TMX.replace("<tu>\n      <tuv xml:lang=\"en\"><seg>Only one language.</seg></tuv>\n    </tu>", ""))
    assert main(["data", "check", str(tmp_path / "t.tmx")]) == 0
    out = capsys.readouterr().out
    assert "OK (tmx)" in out and "bitext" in out and "1 ids in 2 languages (de, en)" in out


def test_qa_loader_points_bitext_to_source(tmp_path):
    (tmp_path / "t.tmx").write_text(TMX)
    with pytest.raises(DataError, match="--source"):
        load_parallel_qa(tmp_path / "t.tmx")
