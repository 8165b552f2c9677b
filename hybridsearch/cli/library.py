"""``hybridsearch index|search|status|remove|failed|reembed``: the library from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from hybridsearch.cli.encoder import add_model_options, positive_int
from hybridsearch.errors import InputError
from hybridsearch.progress import format_duration
from hybridsearch.records import place_label
from hybridsearch.snippets import render


def _languages(text: str) -> str:
    """argparse type for --lang: comma-separated language codes, at least one."""
    import argparse

    codes = [c.strip().lower() for c in text.split(",") if c.strip()]
    if not codes:
        raise argparse.ArgumentTypeError(f"no language codes in {text!r}: give codes such as ru,uk")
    bad = [c for c in codes if not (c.isalpha() and 2 <= len(c) <= 3)]
    if bad:
        raise argparse.ArgumentTypeError(f"not a language code: {', '.join(bad)} (use ISO codes such as en, ru, zh)")
    return ",".join(codes)


def _library_option(p) -> None:
    p.add_argument("--library", metavar="DIR", default=None,
                   help="library directory (default: the app's library, or $HYBRIDSEARCH_HOME/data/library)")


def register(sub) -> None:
    p = sub.add_parser("index", help="add folders to the library and index them (resumable)")
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders to add and index")
    p.add_argument("--include", action="append", default=None, metavar="GLOB",
                   help="only files matching this pattern (repeatable), e.g. '*.pdf'")
    p.add_argument("--exclude", action="append", default=None, metavar="GLOB",
                   help="skip files/folders matching this pattern (repeatable), e.g. 'drafts/**'")
    p.add_argument("--max-size-mb", type=float, default=64, help="skip files larger than this (default 64)")
    p.add_argument("--follow-links", action="store_true",
                   help="also follow symbolic links that point outside the folder (remembered by the library)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    _library_option(p)
    add_model_options(p)
    p.set_defaults(func=cmd_index)

    s = sub.add_parser("search", help="search the library")
    s.add_argument("query")
    s.add_argument("--lang", type=_languages, default=None, help="only these languages, e.g. ru,uk")
    s.add_argument("--k", type=positive_int, default=10, help="number of documents (default 10)")
    s.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    s.add_argument("--lexical-weight", type=float, default=None, metavar="W",
                   help="hybrid mode: weight of keyword matches against 1.0 for semantic ones "
                        "(default 0.3; higher favours documents in the query's language)")
    s.add_argument("--language-offset", type=float, default=None, metavar="X",
                   help="taken from the similarity of passages in the query's language, so that answers "
                        "in other languages are not ranked below ones that merely share the query's words "
                        "(default: the model's, 0.01 for the bundled one; 0: none)")
    s.add_argument("--no-feedback", action="store_true",
                   help="search once; by default the query is searched again moved toward its best "
                        "passages, which ranks their translations in other languages next to them")
    s.add_argument("--as-typed", action="store_true",
                   help="never search a spelling suggestion instead of the query (by default it is "
                        "searched when the query matches nothing well and the suggestion does)")
    s.add_argument("--type", default=None, help="only these file types, e.g. pdf,docx")
    s.add_argument("--folder", action="append", default=None, help="only documents under this folder")
    s.add_argument("--json", action="store_true")
    _library_option(s)
    add_model_options(s)
    s.set_defaults(func=cmd_search)

    st = sub.add_parser("status", help="library counts, model and index health")
    st.add_argument("--json", action="store_true")
    _library_option(st)
    st.set_defaults(func=cmd_status)

    r = sub.add_parser("remove", help="remove a folder (its documents, chunks and vectors) from the library")
    r.add_argument("path")
    _library_option(r)
    r.set_defaults(func=cmd_remove)

    f = sub.add_parser("failed", help="list files that could not be indexed, with the reason")
    f.add_argument("--json", action="store_true")
    _library_option(f)
    f.set_defaults(func=cmd_failed)

    e = sub.add_parser("reembed", help="re-embed the whole library with another model")
    _library_option(e)
    add_model_options(e)
    e.set_defaults(func=cmd_reembed)


ADD_DOCUMENTS = "add a folder with 'hybridsearch index FOLDER'"


def _open(args, model: bool = True, create: bool = False):
    """The library of ``--library`` (or the default one). Only commands that add to a library
    (``create``) make a new one; the others stop with a clear message where there is none."""
    from hybridsearch import paths
    from hybridsearch.library import DB_NAME, Library  # loaded by the library commands only (start-up time)

    root = Path(args.library).expanduser() if args.library else paths.default_library_dir()
    if not create and not (root / DB_NAME).is_file():
        raise InputError(f"there is no library at {root} yet: {ADD_DOCUMENTS}"
                         + (f" --library {args.library}" if args.library else ""))
    kw = {}
    if model:
        kw = dict(model=args.model, device=None if args.device == "auto" else args.device,
                  threads=args.threads)
    return Library(root, **kw)


class _Bars:
    """tqdm bars (on stderr) fed by Progress reports, one bar per stage."""

    def __init__(self):
        self.bar = None
        self.stage = None

    def __call__(self, p) -> None:
        from tqdm import tqdm

        if p.stage != self.stage:
            self.close()
            self.stage = p.stage
            if p.stage == "done":
                return
            unit = "chunk" if p.stage in ("repair", "reembed", "embed") else "file"
            # a stage first heard of part-way (a resumed run) counts its rate from what is left
            self.bar = tqdm(total=p.total, initial=p.done or 0, desc=p.stage, unit=unit, file=sys.stderr,
                            dynamic_ncols=True)
        if self.bar is not None:
            if p.total is not None and self.bar.total != p.total:
                self.bar.total = p.total
            self.bar.n = p.done
            if "chunks_done" in p.extra:
                self.bar.set_postfix(chunks=p.extra["chunks_done"], refresh=False)
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def cmd_index(args) -> int:
    lib = _open(args, create=True)
    lib.max_file_bytes = int(args.max_size_mb * 1024 * 1024)
    bars = _Bars()
    try:
        folders = [lib.add_folder(p, include=args.include, exclude=args.exclude).path for p in args.paths]
        if args.follow_links:
            lib.follow_links = True
        report = lib.index(folders=folders, on_progress=bars)
    finally:
        bars.close()
        lib.close()
    if args.json:
        from dataclasses import asdict

        print(json.dumps(asdict(report), ensure_ascii=False, indent=2))
        return 0
    print(f"indexed: {report.added} new, {report.updated} changed, {report.removed} removed, "
          f"{report.unchanged} unchanged, {report.failed} failed; {report.chunks_added} chunks "
          f"in {report.seconds:.1f} s (keyword-searchable after {report.keyword_seconds:.1f} s)"
          + (f"; {report.repaired_vectors} vectors repaired" if report.repaired_vectors else ""))
    if report.cancelled:
        print("stopped before the end: run the same command again to finish (what was done is kept)")
    for f in report.failures[:20]:
        print(f"  failed: {f.path}: {f.reason}")
    if len(report.failures) > 20:
        print(f"  … and {len(report.failures) - 20} more (hybridsearch failed)")
    return 0


def cmd_search(args) -> int:
    if args.lexical_weight is not None and not 0.0 <= args.lexical_weight <= 10.0:
        raise InputError("--lexical-weight must be between 0 and 10")
    from hybridsearch.encoder.runtime import language_offset_option_error
    from hybridsearch.match_strength import any_good, rated_search

    if problem := language_offset_option_error(args.language_offset):
        raise InputError(problem)
    weights = None if args.lexical_weight is None else (1.0, args.lexical_weight)
    with _open(args) as lib:
        rs = rated_search(lib, args.query, correct=not args.as_typed, k=args.k, mode=args.mode,
                          languages=args.lang.split(",") if args.lang else None,
                          file_types=args.type.split(",") if args.type else None,
                          folders=args.folder, weights=weights, language_offset=args.language_offset,
                          feedback=not args.no_feedback)
        results, ratings = rs.results, rs.ratings
        empty = not results and lib.store.count("SELECT count(*) FROM documents WHERE status = 'ok'") == 0
        root = lib.root
        state = lib.embedding_state() if args.mode != "lexical" else {"not_embedded": 0}
    if state["not_embedded"]:  # on stderr: --json output stays plain
        left = state.get("embedding_eta_s")  # worded as the app words it
        eta = f", about {format_duration(left, whole_minutes_from=600)} left" if left else ""
        print(f"note: {state['not_embedded']} of {state['keyword_indexed']} passages are not embedded yet "
              f"(keyword search covers them; meaning search covers the {state['embedded']} embedded{eta}; "
              "run 'hybridsearch index' to finish)", file=sys.stderr)
    if empty:  # say why, on stderr, so that --json output stays a plain []
        print(f"the library at {root} has no documents yet: {ADD_DOCUMENTS}", file=sys.stderr)
    help_line = (f"showing results for: {rs.query} (search instead for it as typed: --as-typed)"
                 if rs.corrected else f"did you mean: {rs.suggestion}" if rs.suggestion else None)
    if help_line and args.json:  # on stderr: --json output stays plain
        print(help_line, file=sys.stderr)
    if args.json:
        out = []
        for r, rating in zip(results, ratings):
            out.append({"path": r.path, "title": r.title, "language": r.language, "score": r.score,
                        "strength": rating.level,
                        "file_type": r.file_type, "modified": r.modified.isoformat(),
                        "passage": {"chunk_id": r.best.chunk_id, "start": r.best.start, "end": r.best.end,
                                    "language": r.best.language, "text": r.best.text, "page": r.best.page,
                                    "spans": r.best.spans, "snippet_html": r.best.snippet_html},
                        "more": [{"chunk_id": m.chunk_id, "start": m.start, "end": m.end, "page": m.page}
                                 for m in r.more]})
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    if help_line:
        print(help_line)
    if not results:
        print("no results")
        return 0
    if not any_good(ratings):
        print("no good match: the closest documents are only weakly related")
    for i, (r, rating) in enumerate(zip(results, ratings), 1):
        snippet = render(r.best.snippet, "*", "*")
        page = f"  ({place_label(r.file_type, r.best.page)})" if r.best.page else ""
        print(f"{i:>2}. {r.title}  [{r.language or '?'}, {r.file_type}]  {rating.label}\n    {r.path}{page}\n"
              f"    {snippet}")
    return 0


def cmd_status(args) -> int:
    with _open(args, model=False) as lib:
        st = lib.status()
        folders = lib.folders()
    if args.json:
        st["folder_list"] = [{"path": f.path, "documents": f.documents, "chunks": f.chunks,
                              "failed": f.failed, "languages": f.languages,
                              "last_indexed": f.last_indexed.isoformat() if f.last_indexed else None}
                             for f in folders]
        print(json.dumps(st, ensure_ascii=False, indent=2))
        return 0
    print(f"library: {st['root']}")
    print(f"model: {st['model_name'] or '(none yet)'}  ({st['model_identity'] or '-'})")
    print(f"documents: {st['documents']}  chunks: {st['chunks']}  vectors: {st['vectors']}  "
          f"failed files: {st['failed']}")
    left = st["embedding_eta_s"]
    eta = f" (about {format_duration(left, whole_minutes_from=600)} left)" if left else ""
    print(f"keyword-searchable: {st['keyword_indexed']} passages  embedded: {st['embedded']}{eta}")
    print(f"index health: {st['health']}")
    if st["languages"]:
        print("languages: " + ", ".join(f"{k or '?'} {v}" for k, v in st["languages"].items()))
    for f in folders:
        when = f.last_indexed.strftime("%Y-%m-%d %H:%M") if f.last_indexed else "never"
        print(f"  {f.path}: {f.documents} documents, {f.chunks} chunks, {f.failed} failed, indexed {when}")
    return 0


def cmd_remove(args) -> int:
    with _open(args, model=False) as lib:
        lib.remove_folder(args.path)
    print(f"removed {args.path} from the library")
    return 0


def cmd_failed(args) -> int:
    with _open(args, model=False) as lib:
        failed = lib.failed_files()
    if args.json:
        print(json.dumps([{"path": f.path, "reason": f.reason} for f in failed], ensure_ascii=False, indent=2))
        return 0
    for f in failed:
        print(f"{f.path}: {f.reason}")
    if not failed:
        print("no failed files")
    return 0


def cmd_reembed(args) -> int:
    bars = _Bars()
    with _open(args) as lib:
        try:
            lib.reembed(args.model, on_progress=bars)
        finally:
            bars.close()
    print(f"re-embedded the library with {args.model}")
    return 0
