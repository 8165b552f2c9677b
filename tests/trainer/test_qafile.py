"""The QA file reader: good JSONL/CSV/TSV load; every bad-data case names the right lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import trainer.qa.checks as checks
import trainer.qa.languages as languages
import trainer.qa.qafile as qafile
from hybridsearch.errors import DataError
from trainer.qa import load_parallel_qa
from trainer.qa.qafile import read_qa_file

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "resources" / "examples"


def row(i, lang, q="a question?", a="an answer.", **extra) -> str:
    return json.dumps({"id": i, "lang": lang, "question": q, "answer": a, **extra}, ensure_ascii=False)


GOOD = [row("1", "en", "Where is the key?", "Under the mat."),
        row("1", "de", "Wo ist der Schlüssel?", "Unter der Matte.", context="Der Schlüssel liegt unter der Matte."),
        row("2", "en", "Who cooks?", "Anna cooks."),
        row("2", "zh-hans", "谁做饭？", "安娜做饭。")]


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return p


def problems_of(path: Path) -> list[tuple[int, str]]:
    with pytest.raises(DataError) as info:
        read_qa_file(path)
    assert info.value.problems, str(info.value)
    return info.value.problems


def lines_of(problems) -> list[int]:
    return sorted(n for n, _ in problems)


def test_good_jsonl_loads_with_lines_and_summary(tmp_path):
    text = "\ufeff" + GOOD[0] + "\n\n" + "\n".join(GOOD[1:]) + "\n  \n"
    data = read_qa_file(write(tmp_path, "qa.jsonl", text))
    assert [r.line for r in data.rows] == [1, 3, 4, 5]  # BOM tolerated, blank line skipped
    s = data.summary()
    assert s["languages"] == ["de", "en", "zh-Hans"]  # BCP-47 case normalised
    assert s["ids"] == 2 and s["rows"] == 4
    assert s["xx_pairs"] == 4 and s["xy_pairs"] == 4
    assert data.by_id["1"]["de"].context == "Der Schlüssel liegt unter der Matte."
    assert data.by_id["1"]["en"].context is None
    assert data.by_id["2"]["zh-Hans"].answer == "安娜做饭。"


def test_good_csv_and_tsv(tmp_path):
    csv_text = ('id,lang,question,answer,context\n'
                '1,en,"Where, exactly?","Here, under the mat.",\n'
                '1,pt-BR,Onde?,"Aqui,\nembaixo do tapete.",\n'
                '2,en,Who?,Anna.,Anna cooks today.\n'
                '2,pt-BR,Quem?,Anna.,\n')
    data = read_qa_file(write(tmp_path, "qa.csv", "\ufeff" + csv_text))
    assert [r.line for r in data.rows] == [2, 3, 5, 6]  # a quoted line break spans two lines
    assert data.by_id["1"]["en"].question == "Where, exactly?"
    assert data.by_id["1"]["pt-BR"].answer == "Aqui,\nembaixo do tapete."
    assert data.by_id["2"]["en"].context == "Anna cooks today."
    tsv = "lang\tid\tquestion\tanswer\nen\t1\tWhere?\tHere.\nfr\t1\tOù ?\tIci.\n"
    for name in ("qa.tsv", "qa.txt"):
        data = read_qa_file(write(tmp_path, name, tsv))
        assert data.summary()["languages"] == ["en", "fr"]
        assert data.by_id["1"]["fr"].question == "Où ?"


def test_example_files_load():
    j = load_parallel_qa(EXAMPLES / "qa-example.jsonl").summary()
    c = load_parallel_qa(EXAMPLES / "qa-example.csv").summary()
    assert len(j["languages"]) >= 3 and j["ids"] >= 12
    assert len(c["languages"]) >= 3 and c["ids"] >= 12


def test_invalid_json_and_non_objects(tmp_path):
    text = "\n".join([GOOD[0], '{"id": "1", "lang": "de",', GOOD[2], "[1, 2]", GOOD[3], GOOD[1]]) + "\n"
    probs = problems_of(write(tmp_path, "qa.jsonl", text))
    assert lines_of(probs) == [2, 4]
    assert "invalid JSON" in dict(probs)[2]
    assert "JSON object" in dict(probs)[4]


def test_missing_empty_and_non_string_fields(tmp_path):
    text = "\n".join([
        GOOD[0], GOOD[1],
        json.dumps({"id": "2", "lang": "en", "question": "Who?"}),                 # line 3: no answer
        json.dumps({"id": "2", "lang": "de", "question": "  ", "answer": "Anna."}),  # line 4: empty
        json.dumps({"id": 3, "lang": "en", "question": "Q", "answer": "A"}),         # line 5: number id
        json.dumps({"id": "3", "lang": "de", "question": ["Q"], "answer": "A"}),     # line 6: list
        json.dumps({"id": "3", "lang": "fr", "question": "Q", "answer": "A", "context": 5}),  # line 7
    ]) + "\n"
    probs = problems_of(write(tmp_path, "qa.jsonl", text))
    assert (3, 'field "answer" is missing') in probs
    assert (4, 'field "question" is empty') in probs
    assert any(n == 5 and 'field "id" must be a string' in m for n, m in probs)
    assert any(n == 6 and 'field "question" must be a string' in m for n, m in probs)
    assert any(n == 7 and 'field "context"' in m for n, m in probs)
    assert {1, 2}.isdisjoint(lines_of(probs))


def test_unknown_language_codes(tmp_path):
    text = "\n".join([GOOD[0], row("1", "eng"), row("1", "xx"), row("1", "pt_BR"), row("1", "pt-br")]) + "\n"
    probs = dict(problems_of(write(tmp_path, "qa.jsonl", text)))
    assert sorted(probs) == [2, 3, 4]
    assert '"eng"' in probs[2] and '"en"' in probs[2]  # suggests the ISO 639-1 code
    assert '"xx"' in probs[3]
    assert '"pt-BR"' in probs[4]
    assert "zh-Hans" in languages.COMMON_BCP47 and "en" in languages.ISO_639_1


def test_id_in_one_language_only(tmp_path):
    text = "\n".join([GOOD[0], GOOD[1], row("lonely", "en"), GOOD[2], GOOD[3]]) + "\n"
    probs = problems_of(write(tmp_path, "qa.jsonl", text))
    assert lines_of(probs) == [3]
    assert '"lonely"' in probs[0][1] and "two languages" in probs[0][1]


def test_duplicate_rows_report_both_lines(tmp_path):
    text = "\n".join(GOOD + [row("1", "de", "Noch einmal?", "Ja.")]) + "\n"
    probs = problems_of(write(tmp_path, "qa.jsonl", text))
    assert lines_of(probs) == [2, 5]
    assert "line 5" in dict(probs)[2] and "line 2" in dict(probs)[5]


def test_non_utf8_line(tmp_path):
    raw = (GOOD[0] + "\n" + GOOD[1] + "\n").encode() + row("1", "fr", "caf\u00e9?").encode("latin-1") + b"\n"
    raw += (GOOD[2] + "\n" + GOOD[3] + "\n").encode()
    probs = problems_of(write(tmp_path, "qa.jsonl", raw))
    assert probs == [(3, probs[0][1])] and "UTF-8" in probs[0][1]


def test_every_problem_is_reported_in_order(tmp_path):
    text = "\n".join([GOOD[0], "{oops", GOOD[1], row("9", "en", a=""), "", row("1", "de")]) + "\n"
    with pytest.raises(DataError) as info:
        read_qa_file(write(tmp_path, "qa.jsonl", text))
    probs = info.value.problems
    assert lines_of(probs) == [2, 3, 4, 4, 6]  # bad JSON, duplicate (both), empty answer, lonely id
    assert lines_of(probs) == [n for n, _ in probs]
    assert str(info.value).startswith("qa.jsonl has 5 problems (the first: line 2: invalid JSON")
    listed = qafile.format_problems(probs)
    assert listed[0].startswith("line 2: invalid JSON")
    assert 'line 4: field "answer" is empty' in listed


def test_empty_and_blank_files(tmp_path):
    for text in ("", "\ufeff", "\n\n  \n"):
        with pytest.raises(DataError, match="empty"):
            read_qa_file(write(tmp_path, "qa.jsonl", text))
    with pytest.raises(DataError, match="empty"):
        read_qa_file(write(tmp_path, "qa.csv", "id,lang,question,answer\n"))


def test_size_cap(tmp_path, monkeypatch):
    p = write(tmp_path, "qa.jsonl", "\n".join(GOOD) + "\n")
    monkeypatch.setattr(checks, "MAX_BYTES", 100)
    with pytest.raises(DataError, match="at most"):
        read_qa_file(p)


def test_csv_header_and_field_count_problems(tmp_path):
    with pytest.raises(DataError, match="header") as info:
        read_qa_file(write(tmp_path, "qa.csv", "1,en,Q,A\n1,de,Q,A\n"))
    assert info.value.problems[0][0] == 1
    text = ("id,lang,question,answer\n"
            "1,en,Q,A\n"
            "1,de,Q\n"            # line 3: answer missing
            "2,en,Q,A,extra\n"    # line 4: too many fields
            "2,de,Q,A\n"
            "2,fr,,A\n")          # line 6: empty question
    probs = dict(problems_of(write(tmp_path, "qa.csv", text)))
    assert probs[3] == 'field "answer" is missing'
    assert "5 fields" in probs[4]
    assert probs[6] == 'field "question" is empty'


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(DataError, match="unknown file type"):
        read_qa_file(write(tmp_path, "qa.dat", "id;lang;question;answer\n"))
    # but JSON Lines content is recognised whatever the name
    assert read_qa_file(write(tmp_path, "qa.dat", "\n".join(GOOD))).summary()["rows"] == 4


def test_json_array_gets_a_clear_message(tmp_path):
    text = "[\n" + ",\n".join(GOOD) + "\n]\n"
    with pytest.raises(DataError, match="JSON Lines") as info:
        read_qa_file(write(tmp_path, "qa.json", text))
    assert info.value.problems == [(1, "a JSON array, not JSON Lines (one object per line)")]


def test_csv_quoting_problems_and_long_values(tmp_path):
    long_ctx = "word " * 40000  # beyond the csv module's default 128 KiB field limit
    good = read_qa_file(write(tmp_path, "long.csv", "id,lang,question,answer,context\n"
                                                    f'1,en,Q,A,"{long_ctx}"\n1,de,F,A,\n'))
    assert len(good.by_id["1"]["en"].context) > 150_000
    text = ('id,lang,question,answer\n'
            '1,en,Q,A\n'
            '1,de,"F" oops,A\n'     # line 3: text after a closing quote
            '2,en,Q,A\n'
            '2,de,"never closed,A\n'  # line 5: swallows the rest of the file
            '3,en,Q,A\n')
    probs = dict(problems_of(write(tmp_path, "bad.csv", text)))
    assert "malformed CSV" in probs[3]
    assert "never closed" in probs[5]
