"""Render every page of the desktop app, filled with real data, to PNG files at 1280×800.

    python scripts/render_pages.py --out DIR [--dark] [--steps 6]

Builds a real library from short documents in eight languages (written below), indexes it with
the real default model, runs real searches, trains a model for a few steps on a slice of
XQuAD-R (../shared/data/xquad-r) and evaluates base and trained models on another slice.
Everything happens in a temporary HYBRIDSEARCH_HOME; your own library and settings are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
XQUAD = REPO.parent / "shared" / "data" / "xquad-r"

DOCS = {
    "bees/honey-en.txt": (
        "How bees make honey\n\nHoney bees collect nectar from flowers and carry it back to the hive in "
        "their honey stomach. Worker bees pass the nectar from mouth to mouth, adding enzymes that break "
        "the sugars down.\n\nThe bees then spread the nectar in wax cells and fan it with their wings "
        "until most of the water has evaporated. When the honey is ripe, they seal the cell with wax."),
    "bienen/honig-de.txt": (
        "Wie Bienen Honig herstellen\n\nHonigbienen sammeln Nektar aus Blüten und bringen ihn in ihrem "
        "Honigmagen zurück in den Stock. Dort geben die Arbeiterinnen den Nektar von Biene zu Biene weiter "
        "und fügen Enzyme hinzu.\n\nAnschließend fächeln sie mit den Flügeln Luft zu, bis das meiste Wasser "
        "verdunstet ist, und verschließen die Waben mit Wachs."),
    "abeilles/miel-fr.txt": (
        "Comment les abeilles fabriquent le miel\n\nLes abeilles butinent le nectar des fleurs et le "
        "rapportent à la ruche. Les ouvrières le transforment en ajoutant des enzymes, puis le déposent "
        "dans des alvéoles de cire.\n\nEn battant des ailes, elles font évaporer l'eau jusqu'à ce que le "
        "miel soit mûr, puis elles operculent les alvéoles."),
    "luna/alunizaje-es.txt": (
        "La llegada a la Luna\n\nEl 20 de julio de 1969, la misión Apolo 11 llevó a Neil Armstrong y Buzz "
        "Aldrin a la superficie de la Luna. Armstrong fue el primer ser humano en pisarla.\n\nMichael "
        "Collins permaneció en órbita en el módulo de mando Columbia mientras sus compañeros recogían "
        "muestras de roca lunar."),
    "луна/высадка-ru.txt": (
        "Высадка на Луну\n\n20 июля 1969 года экипаж «Аполлона-11» совершил посадку на Луну. Нил Армстронг "
        "первым из людей ступил на её поверхность, а за ним последовал Базз Олдрин.\n\nАстронавты собрали "
        "образцы лунного грунта и установили научные приборы."),
    "咖啡/咖啡-zh.txt": (
        "咖啡的历史\n\n咖啡起源于埃塞俄比亚，后来传到阿拉伯半岛。十五世纪时，也门的苏菲派修士已经饮用咖啡来保持清醒。\n\n"
        "今天，巴西是世界上最大的咖啡生产国，其次是越南和哥伦比亚。咖啡豆需要经过烘焙才能冲泡。"),
    "قهوة/القهوة-ar.txt": (
        "تاريخ القهوة\n\nيعود أصل القهوة إلى إثيوبيا، ثم انتقلت إلى اليمن وشبه الجزيرة العربية. وكان المتصوفة في "
        "اليمن يشربونها ليبقوا مستيقظين أثناء الصلاة في الليل.\n\nتعد البرازيل اليوم أكبر منتج للقهوة في العالم."),
    "火山/富士山-ja.txt": (
        "富士山について\n\n富士山は日本で最も高い山で、標高は3776メートルです。最後の噴火は1707年の宝永大噴火でした。\n\n"
        "夏になると多くの登山者が山頂を目指し、ご来光を見るために夜に登ります。"),
    "vulcani/etna-it.txt": (
        "L'Etna\n\nL'Etna è il vulcano attivo più alto d'Europa e si trova in Sicilia. Le sue eruzioni sono "
        "frequenti e a volte spettacolari.\n\nI terreni vulcanici intorno alla montagna sono molto fertili: "
        "vi si coltivano agrumi, olive e vite."),
    "bees/beekeeping-guide.md": (
        "# A beekeeper's year\n\n## Spring\n\nIn spring the colony grows quickly. The queen lays up to two "
        "thousand eggs a day, and foragers bring in pollen for the brood and nectar from the first "
        "flowers: willow, dandelion and fruit trees. Check that the bees have enough stores until the "
        "first honey flow, and add a super when the brood box is full.\n\n## Summer\n\nSummer is the "
        "main honey flow. Foragers visit thousands of flowers a day; back in the hive, house bees add "
        "enzymes to the nectar and fan their wings to evaporate the water. A frame is ready to harvest "
        "when most of its cells are capped with wax. Leave enough honey for the bees themselves.\n\n"
        "## Autumn\n\nAfter the harvest, treat the colony against varroa mites and feed sugar syrup if "
        "the stores are low. The colony shrinks, drones are driven out, and the bees seal cracks with "
        "propolis.\n\n## Winter\n\nIn winter the bees form a cluster around the queen and live on the "
        "honey they stored. Do not open the hive; just check from outside that the entrance is free and "
        "that the hive is heavy enough."),
    "bees/notes.pdf": None,  # deliberately unreadable: shows up under "Files that could not be read"
}

QUERY = "how do bees turn nectar into honey"


def write_docs(root: Path) -> None:
    for rel, text in DOCS.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if text is None:
            p.write_bytes(b"%PDF-1.4\n% damaged download\n")
        else:
            p.write_text(text, encoding="utf-8")


def wait_until(app, cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def settle(app, seconds: float = 0.3) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def save(win, out: Path, name: str, app) -> Path:
    settle(app)
    path = out / f"{name}.png"
    win.grab().save(str(path))
    print(f"wrote {path}", flush=True)
    return path


def qa_slice(articles, languages, ids: int | None = None):
    from trainer.qa import load_xquad_r

    data = load_xquad_r(XQUAD, articles=articles, languages=languages)
    if ids:
        data = data.subset(data.ids[:ids])
    return data


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--dark", action="store_true", help="render with the dark colour scheme")
    ap.add_argument("--steps", type=int, default=6, help="training steps for the training page")
    ap.add_argument("--eval-ids", type=int, default=24, help="question ids per evaluation")
    args = ap.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # a private home: a fresh library and settings, the already converted models linked in
    from hybridsearch import paths

    real_models = paths.models_dir()
    tmp = Path(tempfile.mkdtemp(prefix="hs-render-"))
    os.environ["HYBRIDSEARCH_HOME"] = str(tmp / "home")
    (tmp / "home" / "models").mkdir(parents=True)
    if real_models.is_dir():
        for entry in real_models.iterdir():
            if not entry.name.startswith(".") and not entry.name.startswith("trained-"):
                (tmp / "home" / "models" / entry.name).symlink_to(entry)
    if os.environ.get("QT_QPA_PLATFORM", "offscreen").startswith("offscreen"):
        screen = REPO / "tests" / "qt" / "offscreen-screen.json"
        os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={screen}" if screen.is_file() else "offscreen"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

    from PySide6.QtCore import QSettings
    from PySide6.QtGui import QDesktopServices

    from hybridsearch.qt.app import make_app
    from hybridsearch.qt.library_service import LibraryService
    from hybridsearch.qt.main_window import MainWindow
    from hybridsearch.qt.settings import Settings

    if args.dark:
        os.environ["HYBRIDSEARCH_THEME"] = "dark"
    app = make_app(["render_pages"])
    QDesktopServices.openUrl = staticmethod(lambda url: True)  # never launch anything while rendering
    settings = Settings(QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    service = LibraryService(root=tmp / "library", model="default")
    win = MainWindow(service=service, settings=settings, catch_up=False)
    win.resize(1280, 800)
    win.show()
    settle(app, 0.5)
    suffix = "-dark" if args.dark else ""

    # 1. empty library
    wait_until(app, lambda: win.search_page.stack.currentWidget() is win.search_page.empty_folders, 30,
               "empty state")
    save(win, out, f"0-search-empty{suffix}", app)

    # 2. library: add a folder of multilingual documents and index it with the real model
    docs = tmp / "Documents"
    write_docs(docs)
    win.show_page(1)
    finished = []
    service.job_finished.connect(lambda *a: finished.append(a))
    shots = []

    def snap_progress(p):  # one picture of indexing in progress, taken after this signal is handled
        if not shots and (p.extra or {}).get("files_total"):
            shots.append(True)
            win.grab().save(str(out / f"2-library-indexing{suffix}.png"))  # the page already shows p
    service.job_progress.connect(snap_progress)
    t0 = time.monotonic()
    win.library_page.add_folder(str(docs))
    wait_until(app, lambda: finished, 600, "indexing")
    service.job_progress.disconnect(snap_progress)
    print(f"indexed in {time.monotonic() - t0:.1f} s: {finished[-1][1]}", flush=True)
    wait_until(app, lambda: win.library_page.table.rowCount() == 1
               and win.library_page.table.item(0, 1).text() != "0", 30, "library table")
    win.library_page.table.selectRow(0)
    save(win, out, f"3-library{suffix}", app)

    # 3. search: an English question; the answers come in several languages
    win.show_page(0)
    page = win.search_page
    wait_until(app, lambda: page.lang_filter.actions_, 30, "filters")
    got = []
    page.searched.connect(got.append)
    page.box.setText(QUERY)
    page.search_now()
    wait_until(app, lambda: got, 120, "search")
    page.list.setCurrentRow(1 if len(page.results) > 1 else 0)
    wait_until(app, lambda: "Loading" not in page.context_view.toPlainText(), 30, "context")
    if page.list.currentItem() is not None:
        card = page.list.itemWidget(page.list.currentItem())
        if card.more_button is not None:
            card.toggle_more()
    print("results:", [(Path(r.path).name, r.language, round(r.score, 3)) for r in page.results], flush=True)
    save(win, out, f"1-search{suffix}", app)
    got.clear()
    page.box.setText("Vulkan Ausbruch Sizilien")
    page.search_now()
    wait_until(app, lambda: got, 60, "search 2")
    save(win, out, f"1b-search-crosslingual{suffix}", app)
    got.clear()
    page.mode.setCurrentIndex(page.mode.findData("lexical"))
    page.box.setText("zzyzx quarterly")
    page.search_now()
    wait_until(app, lambda: got, 60, "search 3")
    save(win, out, f"1c-search-no-results{suffix}", app)
    page.mode.setCurrentIndex(page.mode.findData("hybrid"))

    # 4. training: a few real steps on a slice of XQuAD-R, compared with the current model. The
    # slice comes from articles the bundled model never trained on (it trained on 0-27), so its
    # dev split is as new to the current model as to the one being trained.
    qa = tmp / "qa-train.jsonl"
    train_data = qa_slice(range(33, 35), ["ar", "de", "en", "es", "ru", "zh"], ids=48)
    with open(qa, "w", encoding="utf-8") as f:
        for r in train_data.rows:
            f.write(json.dumps({"id": r.id, "lang": r.lang, "question": r.question, "answer": r.answer},
                               ensure_ascii=False) + "\n")
    win.show_page(2)
    tp = win.training_page
    tp.load_file(str(qa))
    wait_until(app, lambda: tp.data is not None, 60, "QA file")
    tp.steps_radio.setChecked(True)
    tp.steps.setValue(args.steps)
    tp.batch.setValue(12)
    tp.max_length.setValue(64)
    tp.dev_share.setValue(0.25)
    tp.eval_every = 2
    tp.start()
    half = []

    def snap_training(p):
        if not half and hasattr(p, "step") and p.step >= max(2, args.steps // 2):
            half.append(True)
            win.grab().save(str(out / f"4-training-running{suffix}.png"))
    tp.worker.progress.connect(snap_training)
    wait_until(app, lambda: not tp.running, 1200, "training")
    if tp.banner.isVisible():
        print("training banner:", tp.banner.text(), flush=True)
    save(win, out, f"4-training{suffix}", app)

    # 5. a bad QA file shows its errors with line numbers
    bad = tmp / "bad.jsonl"
    bad.write_text('{"id": "1", "lang": "en", "question": "Where?", "answer": "Here."}\n'
                   '{"id": "1", "lang": "xx-nope", "question": "Wo?"}\n'
                   "not json at all\n", encoding="utf-8")
    tp.load_file(str(bad))
    wait_until(app, lambda: tp.error_list.count() > 0, 30, "bad file errors")
    save(win, out, f"5-training-bad-file{suffix}", app)

    # 6. evaluation: base vs the model just trained, on another slice of XQuAD-R
    win.show_page(3)
    ep = win.evaluation_page
    ep.refresh_models()
    models = ["base"] + ([str(tp.result.out_dir)] if tp.result is not None else [])
    ep.set_checked(models)
    eval_path = tmp / "qa-eval.jsonl"
    ev = qa_slice(range(30, 31), ["ar", "de", "en", "es", "ru", "zh"], ids=args.eval_ids)
    with open(eval_path, "w", encoding="utf-8") as f:
        for r in ev.rows:
            f.write(json.dumps({"id": r.id, "lang": r.lang, "question": r.question, "answer": r.answer},
                               ensure_ascii=False) + "\n")
    ep.path_edit.setText(str(eval_path))
    ep.limit.setValue(0)
    ep.run()
    wait_until(app, lambda: not ep.running, 1200, "evaluation")
    if ep.banner.isVisible():
        print("evaluation banner:", ep.banner.text(), flush=True)
    save(win, out, f"6-evaluation{suffix}", app)
    ep.export_all(out / f"charts{suffix}")
    ep.export_report(out / f"evaluation{suffix}.json")
    ep.export_report(out / f"evaluation{suffix}.csv")

    win.close()
    settle(app, 0.2)
    print(f"done: {out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
