"""``hybridsearch index|search|status|failed|remove`` as a user runs them (in-process, tiny model)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from test_documents import RU, make_encrypted_pdf

from hybridsearch.cli import main
from hybridsearch.library import Library


def test_index_search_status_failed_remove(tmp_path, tiny_model_dir, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ru.txt").write_bytes(RU.encode("cp1251"))
    (docs / "en.txt").write_text("The walrus sleeps on the beach near the NEAR sign.", encoding="utf-8")
    make_encrypted_pdf(docs / "locked.pdf")
    lib = ["--library", str(tmp_path / "lib")]
    model = ["--model", str(tiny_model_dir), "--device", "cpu"]

    assert main(["index", str(docs), *lib, *model]) == 0
    out = capsys.readouterr()
    assert "indexed: 2 new" in out.out and "1 failed" in out.out and "encrypted" in out.out
    assert "index" in out.err  # the progress bar went to stderr

    assert main(["search", "Москва", "--json", "--mode", "lexical", *lib, *model]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res[0]["path"].endswith("ru.txt") and res[0]["language"] == "ru"
    assert "<b>Москва</b>" in res[0]["passage"]["snippet_html"]

    assert main(["search", '"NEAR*', "--k", "3", *lib, *model]) == 0
    assert "en.txt" in capsys.readouterr().out
    # a heavy keyword weight puts the keyword match first even with the tiny (random) encoder
    assert main(["search", "walrus", "--lexical-weight", "10", "--json", *lib, *model]) == 0
    assert json.loads(capsys.readouterr().out)[0]["path"].endswith("en.txt")
    assert main(["search", "walrus", "--lexical-weight", "-1", *lib, *model]) == 2
    assert "--lexical-weight must be between 0 and 10" in capsys.readouterr().err
    # --language-offset: the English passage (the query's language) scores that much lower (one
    # search each: --no-feedback, as feedback would move the query toward different first hits)
    scores = {}
    for x in ("0", "0.2"):
        assert main(["search", "the walrus sleeps", "--mode", "dense", "--language-offset", x, "--json",
                     "--no-feedback", *lib, *model]) == 0
        scores[x] = {Path(r["path"]).name: r["score"] for r in json.loads(capsys.readouterr().out)}
    assert scores["0.2"]["en.txt"] == pytest.approx(scores["0"]["en.txt"] - 0.2, abs=1e-5)
    assert scores["0.2"]["ru.txt"] == pytest.approx(scores["0"]["ru.txt"], abs=1e-6)
    # by default the query searches again from its first hits: the scores are the moved query's
    assert main(["search", "the walrus sleeps", "--mode", "dense", "--language-offset", "0", "--json",
                 *lib, *model]) == 0
    fed = {Path(r["path"]).name: r["score"] for r in json.loads(capsys.readouterr().out)}
    assert fed.keys() == scores["0"].keys() and fed != pytest.approx(scores["0"], abs=1e-4)
    assert main(["search", "walrus", "--language-offset", "0.5", *lib, *model]) == 2
    assert "--language-offset must be from 0 to 0.2" in capsys.readouterr().err
    assert main(["search", "walrus", "--lang", "ru", "--mode", "lexical", *lib, *model]) == 0
    assert "no results" in capsys.readouterr().out

    assert main(["status", *lib]) == 0
    out = capsys.readouterr().out
    assert "documents: 2" in out and "index health: ok" in out
    assert main(["status", "--json", *lib]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["vectors"] == st["chunks"] > 0 and st["failed"] == 1

    assert main(["failed", *lib]) == 0
    assert "locked.pdf: encrypted" in capsys.readouterr().out

    assert main(["remove", str(docs), *lib]) == 0
    capsys.readouterr()
    assert main(["status", "--json", *lib]) == 0
    assert json.loads(capsys.readouterr().out)["documents"] == 0
    assert main(["remove", str(tmp_path / "nope"), *lib]) == 2
    assert "not a library folder" in capsys.readouterr().err


def test_locked_library_gives_a_clear_message(tmp_path, tiny_model_dir, tiny_encoder, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello", encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as app:
        app.add_folder(docs)  # the "app" holds the library
        code = main(["index", str(docs), "--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir)])
        err = capsys.readouterr().err
        assert code == 2 and "error: the library is in use by another hybridsearch process" in err
        assert "Traceback" not in err


def test_a_closed_pipe_ends_quietly():
    """`hybridsearch ... | head` where head has already gone: no traceback, the SIGPIPE status."""
    import subprocess
    import sys

    example = Path(__file__).resolve().parents[2] / "resources" / "examples" / "qa-example.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "hybridsearch", "data", "check", str(example)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the command writes a line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_search_of_an_empty_library_says_what_to_do(tmp_path, tiny_model_dir, capsys):
    lib = ["--library", str(tmp_path / "lib"), "--model", str(tiny_model_dir), "--device", "cpu"]
    for cmd in (["search", "anything"], ["status"], ["failed"]):  # no library there: none is made
        assert main([*cmd, *lib[:2]] if cmd[0] != "search" else [*cmd, *lib]) == 2
        assert "there is no library at" in capsys.readouterr().err
    assert not (tmp_path / "lib").exists()
    Library(tmp_path / "lib").close()  # a library without documents (every folder removed, say)
    assert main(["search", "anything", "--json", *lib]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == [] and "has no documents yet" in out.err and "hybridsearch index" in out.err


def test_search_prints_the_page_of_a_pdf_passage(tmp_path, tiny_model_dir, capsys):
    from test_documents import make_pdf
    from test_indexer import PDF_PAGES

    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "keeper.pdf", pages=PDF_PAGES)
    lib = ["--library", str(tmp_path / "lib")]
    model = ["--model", str(tiny_model_dir), "--device", "cpu"]
    assert main(["index", str(docs), *lib, *model]) == 0
    capsys.readouterr()
    assert main(["search", "walrus", "--mode", "lexical", *lib, *model]) == 0
    out = capsys.readouterr().out
    assert f"{docs / 'keeper.pdf'}  (p. 3)" in out, out
    assert main(["search", "sunflowers", "--mode", "lexical", "--json", *lib, *model]) == 0
    assert json.loads(capsys.readouterr().out)[0]["passage"]["page"] == 2

    from test_documents import make_pptx  # a presentation's passages say their slide
    make_pptx(docs / "talk.pptx", [("Lighthouses", "Keepers lit the lamps."), ("Seabirds", "Puffins nest here.")])
    assert main(["index", str(docs), *lib, *model]) == 0
    capsys.readouterr()
    assert main(["search", "puffins", "--mode", "lexical", *lib, *model]) == 0
    assert f"{docs / 'talk.pptx'}  (slide 2)" in capsys.readouterr().out


def test_time_left_to_embed_is_worded_as_the_app_words_it(tmp_path, tiny_model_dir, tiny_encoder, capsys):
    """While passages wait for their vectors, status and search say how long is left, as the app does."""
    from hybridsearch.progress import format_duration

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"n{i}.txt").write_text(f"Walrus note {i} about the beach and the tide.", encoding="utf-8")
    with Library(tmp_path / "lib", encoder=tiny_encoder) as app:
        app.add_folder(docs)
        app.index()
        n = app.status()["chunks"]
        with app.store.transaction():  # the measured embedding rate: all of them in 150 s
            app.store.set("passages_per_s", n / 150)
    (tmp_path / "lib" / "vectors.hnsw").unlink()  # as if killed before the vectors were saved
    lib = ["--library", str(tmp_path / "lib")]
    assert format_duration(150, whole_minutes_from=600) == "2 min 30 s"
    assert main(["status", *lib]) == 0
    assert "embedded: 0 (about 2 min 30 s left)" in capsys.readouterr().out
    assert main(["search", "walrus", *lib, "--model", str(tiny_model_dir), "--device", "cpu"]) == 0
    assert "the 0 embedded, about 2 min 30 s left;" in capsys.readouterr().err


def _indexed_texts(tmp_path, tiny_model_dir, capsys, texts: dict[str, str]) -> tuple[list[str], list[str]]:
    """A folder of these text files, indexed with the tiny model -> (library options, model options)."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    lib = ["--library", str(tmp_path / "lib")]
    model = ["--model", str(tiny_model_dir), "--device", "cpu"]
    assert main(["index", str(docs), *lib, *model]) == 0
    capsys.readouterr()
    return lib, model


def _search(capsys, *args) -> str:
    """``hybridsearch search ARGS``: it succeeds; what it printed on stdout."""
    assert main(["search", *args]) == 0
    return capsys.readouterr().out


def test_search_says_how_well_each_result_matches_as_the_app_does(tmp_path, tiny_model_dir, capsys):
    """Each result is labelled strong / good / weak (the app's words) instead of a raw fused score;
    when none matches well the output says so first; --json carries the label as "strength"."""
    lib, model = _indexed_texts(tmp_path, tiny_model_dir, capsys, {
        "walrus.txt": "The walrus sleeps on the ice floe.",
        "garden.txt": "Sunflowers need a sunny bed and little water."})
    # keyword search: every keyword present is a good match, some of them a weak one
    out = _search(capsys, "walrus ice", "--mode", "lexical", *lib, *model)
    assert out.startswith(" 1. walrus  [en, txt]  good match\n"), out
    assert "no good match" not in out
    out = _search(capsys, "walrus penguin", "--mode", "lexical", *lib, *model)
    assert out.startswith("no good match: the closest documents are only weakly related") and "weak match" in out
    found = json.loads(_search(capsys, "walrus ice", "--mode", "lexical", "--json", *lib, *model))
    assert found[0]["strength"] == "good"
    # hybrid search rates by meaning as well (the tiny model's cosines are random: any label)
    found = json.loads(_search(capsys, "walrus", "--json", *lib, *model))
    assert {r["strength"] for r in found} <= {"strong", "good", "weak"}


def test_search_offers_the_spelling_the_library_uses(tmp_path, tiny_model_dir, capsys):
    """A word no document holds, one letter from a word two documents hold: when the query matches
    nothing well and the corrected one does, the corrected one is searched ("showing results for");
    --as-typed keeps the query and offers the spelling ("did you mean"). With --json the line goes
    to stderr, and the output stays a list."""
    lib, model = _indexed_texts(tmp_path, tiny_model_dir, capsys, {
        "a.txt": "Jacksonville was named after Andrew Jackson.",
        "b.txt": "Jacksonville lies on the St. Johns River."})
    out = _search(capsys, "Who named Jacksonvile?", "--mode", "lexical", *lib, *model)
    assert out.startswith("showing results for: Who named Jacksonville? (search instead"), out
    assert "\n 1. a  [en, txt]  good match\n" in out and "*Jacksonville*" in out
    out = _search(capsys, "Who named Jacksonvile?", "--mode", "lexical", "--as-typed", *lib, *model)
    assert out.startswith("did you mean: Who named Jacksonville?\nno good match"), out
    # the corrected query matches nothing well either: the results stay the query's, the spelling offered
    out = _search(capsys, "Who built the Jacksonvile aquarium?", "--mode", "lexical", *lib, *model)
    assert out.startswith("did you mean: Who built the Jacksonville aquarium?\nno good match"), out
    assert main(["search", "Who named Jacksonvile?", "--mode", "lexical", "--json", *lib, *model]) == 0
    cap = capsys.readouterr()
    assert "showing results for: Who named Jacksonville?" in cap.err
    assert json.loads(cap.out)[0]["path"].endswith("a.txt")
    out = _search(capsys, "Who named Jacksonville?", *lib, *model)
    assert "did you mean" not in out and "showing results for" not in out
