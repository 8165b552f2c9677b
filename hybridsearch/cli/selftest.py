"""``hybridsearch --self-test``: index a small multilingual sample and check cross-lingual search.

The sample is written by this module (ten short documents on clearly distinct topics, each in a
different language, in seven scripts: Latin, Cyrillic, Han, Japanese, Arabic, Devanagari, Greek).
It is indexed into a temporary library with the model the app uses by default, then every query,
each in another language than its target document (eight query languages, five scripts), must
rank that document first. Dense search is used: the base model's lexical-free ranking is what
cross-lingual retrieval depends on, and the hybrid fusion adds same-language lexical matches. Prints a table and
returns 0 when every query passes, 1 otherwise. Nothing of the user's own data is touched: the
library, the sample folder and (unless ``HYBRIDSEARCH_HOME`` is set) nothing else is written.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from hybridsearch import __version__
from hybridsearch.cli.common import configure_stdout, quiet_libraries
from hybridsearch.encoder import resolve_model
from hybridsearch.library import Library

#: file name -> (language, script, text). Written by the project; each topic appears once.
DOCUMENTS: dict[str, tuple[str, str, str]] = {
    "kazan.txt": ("ja", "Japanese (Han, Kana)", (
        "火山の噴火\n\n"
        "火山は、地下深くで溶けた岩石であるマグマが上昇することで噴火します。マグマに溶けているガスの"
        "圧力によって、溶岩や火山灰、岩のかけらが火口から噴き出します。爆発的な噴火では火山灰の雲が"
        "空高く上がり、溶岩流はゆっくりと山の斜面を覆っていきます。")),
    "brot.txt": ("de", "Latin", (
        "Brot backen\n\n"
        "Für ein einfaches Brot braucht man Mehl, Wasser, Salz und Hefe. Der Teig wird lange "
        "geknetet und muss dann an einem warmen Ort gehen, bis er sein Volumen verdoppelt hat. "
        "Danach formt man einen Laib und backt ihn im heißen Ofen, bis die Kruste goldbraun ist.")),
    "ajedrez.txt": ("es", "Latin", (
        "Aperturas de ajedrez\n\n"
        "En el ajedrez, la apertura son los primeros movimientos de la partida. Los jugadores "
        "intentan controlar el centro del tablero con los peones, desarrollar los caballos y los "
        "alfiles y poner al rey a salvo mediante el enroque. La defensa siciliana y el gambito de "
        "dama son aperturas muy populares.")),
    "voda.txt": ("ru", "Cyrillic", (
        "Круговорот воды в природе\n\n"
        "Солнце нагревает воду в морях и озёрах, и она испаряется. Водяной пар поднимается вверх, "
        "охлаждается и конденсируется в облака. Затем вода выпадает на землю в виде дождя или "
        "снега, стекает в реки и снова возвращается в море.")),
    "zuqiu.txt": ("zh", "Han", (
        "足球世界杯\n\n"
        "国际足联世界杯是全世界最受关注的足球比赛，每四年举办一次。来自各大洲的国家队先参加预选赛，"
        "然后在决赛阶段争夺冠军奖杯。巴西队赢得世界杯的次数最多，数以亿计的球迷通过电视观看比赛。")),
    "kaman.txt": ("ar", "Arabic", (
        "صناعة الكمان\n\n"
        "يصنع صانع الكمان الآلة يدويًا من خشب القيقب والتنوب. يتم نحت الظهر والوجه بعناية ثم تُلصق "
        "الأجزاء معًا ويُطلى الكمان بالورنيش. تؤثر جودة الخشب وسماكته على صوت الآلة الموسيقية، "
        "ويحتاج صنع كمان واحد إلى أسابيع من العمل.")),
    "chai.txt": ("hi", "Devanagari", (
        "चाय की खेती\n\n"
        "चाय के पौधे पहाड़ी ढलानों पर उगाए जाते हैं जहाँ बारिश अधिक होती है। मज़दूर हाथ से कोमल "
        "पत्तियाँ तोड़ते हैं। फिर पत्तियों को सुखाया जाता है और कारखाने में संसाधित किया जाता है। "
        "असम और दार्जिलिंग अपनी चाय के लिए प्रसिद्ध हैं।")),
    "melissa.txt": ("el", "Greek", (
        "Μελισσοκομία\n\n"
        "Ο μελισσοκόμος φροντίζει τις κυψέλες όπου ζουν οι μέλισσες. Οι μέλισσες συλλέγουν νέκταρ "
        "από τα λουλούδια και το μετατρέπουν σε μέλι. Το καλοκαίρι ο μελισσοκόμος ανοίγει τις "
        "κυψέλες, βγάζει τις κηρήθρες και συλλέγει το μέλι.")),
    "fusee.txt": ("fr", "Latin", (
        "Le lancement d'une fusée\n\n"
        "Une fusée spatiale décolle grâce à la poussée de ses moteurs qui brûlent du carburant. "
        "Elle traverse l'atmosphère puis sépare ses étages vides pour placer un satellite en orbite "
        "autour de la Terre. Le compte à rebours précède chaque lancement.")),
    "fiets.txt": ("nl", "Latin", (
        "Fietsen in Nederland\n\n"
        "In Nederland zijn er meer fietsen dan inwoners. Veel mensen fietsen elke dag naar hun werk "
        "of naar school over speciale fietspaden. Een goed slot is belangrijk, want fietsendiefstal "
        "komt vaak voor in de grote steden.")),
}


@dataclass
class Query:
    text: str
    language: str
    expected: str   # file name of the document that must come first


#: Every query is in a different language (and mostly a different script) than its target.
QUERIES: list[Query] = [
    Query("How is bread baked in an oven?", "en", "brot.txt"),
    Query("Шахматные дебюты: контроль центра и рокировка", "ru", "ajedrez.txt"),
    Query("Il ciclo dell'acqua: evaporazione e pioggia", "it", "voda.txt"),
    Query("Mistrzostwa świata w piłce nożnej", "pl", "zuqiu.txt"),
    Query("バイオリンの製作", "ja", "kaman.txt"),
    Query("volcanic eruption with lava and ash", "en", "kazan.txt"),
    Query("tea plantations and picking tea leaves", "en", "chai.txt"),
    Query("L'apiculteur récolte le miel des ruches", "fr", "melissa.txt"),
    Query("रॉकेट का प्रक्षेपण और उपग्रह", "hi", "fusee.txt"),
    Query("Το ποδήλατο είναι το πιο δημοφιλές μέσο μεταφοράς στην Ολλανδία", "el", "fiets.txt"),
]


@dataclass
class Outcome:
    query: Query
    top: str | None
    top_language: str | None
    score: float | None
    rank: int | None  # rank of the expected document (1 = first), None if not in the results

    @property
    def passed(self) -> bool:
        return self.rank == 1


def write_sample(folder: Path) -> list[Path]:
    """Write the sample documents into ``folder`` (created); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, (_lang, _script, text) in DOCUMENTS.items():
        p = folder / name
        p.write_text(text + "\n", encoding="utf-8")
        out.append(p)
    return out


def _width(s: str) -> int:
    """Terminal columns of ``s`` (wide for Han; combining marks take none)."""
    import unicodedata

    w = 0
    for ch in s:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def _pad(s: str, n: int) -> str:
    if _width(s) > n:
        while s and _width(s + "…") > n:
            s = s[:-1]
        s += "…"
    return s + " " * max(0, n - _width(s))


def run_checks(library, k: int = 5, mode: str = "dense") -> list[Outcome]:
    out = []
    for q in QUERIES:
        results = library.search(q.text, k=k, mode=mode)
        names = [Path(r.path).name for r in results]
        rank = names.index(q.expected) + 1 if q.expected in names else None
        top = results[0] if results else None
        out.append(Outcome(q, names[0] if names else None, top.language if top else None,
                           top.score if top else None, rank))
    return out


def print_table(outcomes: list[Outcome], file=None) -> None:
    file = file or sys.stdout
    print(f"{_pad('query', 44)} {'lang':4}  {_pad('expected', 12)} {_pad('top result', 18)} result",
          file=file)
    for o in outcomes:
        top = f"{o.top} ({o.top_language})" if o.top else "(nothing)"
        verdict = "pass" if o.passed else (f"FAIL (rank {o.rank})" if o.rank else "FAIL (not found)")
        print(f"{_pad(o.query.text, 44)} {o.query.language:4}  {_pad(o.query.expected, 12)} "
              f"{_pad(top, 18)} {verdict}", file=file)


def run_self_test(model: str = "default", mode: str = "dense", keep: bool = False) -> int:
    """Write the sample, index it into a temporary library, run the queries; 0 if all pass."""
    configure_stdout()
    t0 = time.perf_counter()

    scripts = sorted({s for _l, s, _t in DOCUMENTS.values()})
    langs = sorted({lang for lang, _s, _t in DOCUMENTS.values()})
    print(f"hybridsearch {__version__} self-test: {len(DOCUMENTS)} documents in {len(langs)} languages "
          f"({', '.join(langs)}), {len(scripts)} scripts ({', '.join(scripts)})")
    tmp = Path(tempfile.mkdtemp(prefix="hybridsearch-selftest-"))
    try:
        model_dir = resolve_model(model)
        print(f"model: {model_dir}")
        sample = tmp / "sample"
        write_sample(sample)
        with Library(tmp / "library", model=model) as lib:
            lib.add_folder(sample)
            t_load = time.perf_counter()
            _ = lib.encoder
            t_index = time.perf_counter()
            report = lib.index()
            t_search = time.perf_counter()
            first = lib.search(QUERIES[0].text, k=1, mode=mode)
            t_first = time.perf_counter()
            if report.failed:
                for f in report.failures:
                    print(f"could not index {f.path}: {f.reason}")
            print(f"indexed {report.added} documents ({report.chunks_added} passages); "
                  f"model load {t_index - t_load:.1f} s, indexing {t_search - t_index:.1f} s, "
                  f"first search {1000 * (t_first - t_search):.0f} ms; first result after "
                  f"{t_first - t0:.1f} s")
            del first
            outcomes = run_checks(lib, mode=mode)
        print()
        print_table(outcomes)
        passed = sum(o.passed for o in outcomes)
        print()
        ok = passed == len(outcomes) and report.added == len(DOCUMENTS)
        print(f"self-test {'passed' if ok else 'FAILED'}: {passed}/{len(outcomes)} cross-lingual "
              f"queries found their document first ({mode} search, {time.perf_counter() - t0:.1f} s)")
        return 0 if ok else 1
    finally:
        if keep:
            print(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m hybridsearch.cli.selftest")
    p.add_argument("--model", default="default")
    p.add_argument("--mode", default="dense", choices=["hybrid", "dense", "lexical"])
    p.add_argument("--keep", action="store_true", help="keep the temporary sample and library")
    a = p.parse_args(argv)
    quiet_libraries()
    return run_self_test(model=a.model, mode=a.mode, keep=a.keep)


if __name__ == "__main__":
    sys.exit(main())
