"""Incremental and atomic builds: what changed is rebuilt, nothing else is touched.

Every kind of input (a source, a sidecar, the config, a template, a static file of the
theme, the generator's code, SOURCE_DATE_EPOCH) is changed in turn and the output must
follow: a cache whose key missed one of them would serve a stale page here.
"""

from __future__ import annotations

import dataclasses
import errno
import io
import json
import marshal
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generator import accessions, cache, output, parallel, pipeline, search, tokenizer
from generator.config import Config, load_config
from generator.models import Page

REPO = Path(__file__).resolve().parent.parent


def make_project(root: Path) -> Path:
    """A copy of the seed project (content, themes, config) in ``root``; returns the config file."""
    shutil.copytree(REPO / "content", root / "content")
    shutil.copytree(REPO / "themes", root / "themes")
    shutil.copy(REPO / "config.yaml", root / "config.yaml")
    return root / "config.yaml"


def files_state(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file below ``folder``: (inode, mtime in ns, bytes)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            stat = path.stat()
            state[path.relative_to(folder).as_posix()] = (stat.st_ino, stat.st_mtime_ns, path.read_bytes())
    return state


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


def load(config_file: Path) -> Config:
    return load_config(config_file)


def build(config_file: Path, **flags: bool) -> pipeline.BuildReport:
    return pipeline.build(load(config_file), quiet=True, **flags)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The ids of the sources whose clean/split/describe stages actually ran."""
    seen: list[str] = []
    real = pipeline.read_source

    def counting(source, config):  # type: ignore[no-untyped-def]
        seen.append(source.id)
        return real(source, config)

    monkeypatch.setattr(pipeline, "read_source", counting)
    return seen


def source_files(project: Path) -> list[Path]:
    return sorted((project.parent / "content").glob("*.txt"))


def test_a_build_with_no_change_touches_no_file(project: Path) -> None:
    first = build(project)
    site = project.parent / "output"
    before = files_state(site)
    folder_before = site.stat()
    record = cache.BuildCache(site).record_file
    record_before = record.stat().st_mtime_ns
    second = build(project)
    assert second.written == 0
    assert second.pages == first.pages
    assert files_state(site) == before
    assert (site.stat().st_ino, site.stat().st_mtime_ns) == (folder_before.st_ino, folder_before.st_mtime_ns)
    assert record.stat().st_mtime_ns == record_before
    # The summary still reports the whole collection, read from the build record.
    assert (second.sources, second.articles, second.dispatches, second.skipped, second.problems) == (
        first.sources, first.articles, first.dispatches, first.skipped, first.problems
    )


def test_the_report_of_a_no_change_build_equals_a_fresh_gather(project: Path) -> None:
    build(project)
    again = build(project)
    fresh = pipeline.BuildReport.of(pipeline.gather(load(project)), again.pages, 0, again.seconds)
    assert again == fresh


def test_editing_one_source_rereads_only_it_and_rewrites_only_changed_files(project: Path, reads: list[str]) -> None:
    build(project)
    site = project.parent / "output"
    before = files_state(site)
    edited = source_files(project)[1]
    text = edited.read_text(encoding="utf-8")
    edited.write_text(text + "\n\n增补一段测试文字，用来检验增量构建。\n", encoding="utf-8")
    reads.clear()
    report = build(project)
    assert reads == [edited.stem]
    after = files_state(site)
    raw_path = f"sources/{edited.stem}/{edited.name}"
    assert after[raw_path][2] == edited.read_bytes()
    assert "检验增量构建" in (site / f"sources/{edited.stem}/index.html").read_text(encoding="utf-8")
    changed = {path for path in after if path not in before or before[path][2] != after[path][2]}
    assert report.written == len(changed)
    for path, (inode, mtime, data) in after.items():
        if path in before and before[path][2] == data:
            # Same bytes: the very same file, never rewritten.
            assert (inode, mtime) == before[path][:2], path
    for other in source_files(project):
        if other != edited:
            raw = f"sources/{other.stem}/{other.name}"
            assert after[raw][:2] == before[raw][:2]


def test_a_sidecar_is_an_input_of_its_source(project: Path, reads: list[str]) -> None:
    build(project)
    source = source_files(project)[0]
    Path(f"{source}.yaml").write_text("added: 2001-02-03\n", encoding="utf-8")
    reads.clear()
    build(project)
    assert reads == [source.stem]
    manifest = json.loads((project.parent / "output" / "manifest.json").read_text(encoding="utf-8"))
    assert "2001-02-03" in json.dumps(manifest)


def test_adding_and_removing_a_source_adds_and_removes_its_pages(project: Path) -> None:
    build(project)
    site = project.parent / "output"
    first = source_files(project)[0]
    copy = first.with_name("zz_copy.txt")
    shutil.copy(first, copy)
    build(project)
    assert (site / "sources/zz_copy/index.html").is_file()
    stored = cache.BuildCache(site).load_record()
    assert stored is not None and stored.record.folders == output.folder_mtimes(site, stored.record.files)
    copy.unlink()
    build(project)
    assert not (site / "sources/zz_copy").exists()
    stored = cache.BuildCache(site).load_record()
    assert stored is not None and stored.record.folders == output.folder_mtimes(site, stored.record.files)
    assert build(project).written == 0


def test_a_config_change_changes_the_pages(project: Path, reads: list[str]) -> None:
    build(project)
    project.write_text(project.read_text(encoding="utf-8").replace("title: 剪报 Jianbao", "title: 另一个标题"), encoding="utf-8")
    reads.clear()
    build(project)
    assert "另一个标题" in (project.parent / "output" / "index.html").read_text(encoding="utf-8")
    # The config digest is part of every source's stage key: describe may read any setting.
    assert sorted(reads) == [path.stem for path in source_files(project)]


def test_a_template_change_changes_the_pages_without_rereading_sources(project: Path, reads: list[str]) -> None:
    build(project)
    template = project.parent / "themes" / "default" / "templates" / "base.html"
    template.write_text(template.read_text(encoding="utf-8") + "<!-- template edited -->\n", encoding="utf-8")
    reads.clear()
    build(project)
    assert "<!-- template edited -->" in (project.parent / "output" / "index.html").read_text(encoding="utf-8")
    assert reads == []


def test_a_static_file_change_is_copied(project: Path) -> None:
    build(project)
    static = sorted(path for path in (project.parent / "themes" / "default" / "static").rglob("*.css") if path.is_file())[0]
    static.write_bytes(static.read_bytes() + b"\n/* static edited */\n")
    build(project)
    published = project.parent / "output" / "static" / static.relative_to(project.parent / "themes" / "default" / "static")
    assert published.read_bytes() == static.read_bytes()


def test_source_date_epoch_is_an_input(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    build(project)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "946684800")  # 2000-01-01T00:00:00Z
    report = build(project)
    assert report.written > 0
    assert "2000-01-01" in (project.parent / "output" / "manifest.json").read_text(encoding="utf-8")


def test_a_code_change_reruns_every_stage(project: Path, reads: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    build(project)
    monkeypatch.setattr(cache, "code_hash", lambda: "another generator")
    reads.clear()
    report = build(project)
    assert sorted(reads) == [path.stem for path in source_files(project)]
    assert report.written == 0  # the same code under another hash makes the same bytes


def test_the_code_hash_covers_every_file_of_the_package(tmp_path: Path) -> None:
    package = tmp_path / "generator"
    shutil.copytree(REPO / "generator", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = cache.package_hash(package)
    (package / "lexicon.py").write_text((package / "lexicon.py").read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert cache.package_hash(package) != before
    (package / "data.txt").write_text("a data file the code reads\n", encoding="utf-8")
    assert cache.package_hash(package) != before


@pytest.fixture(params=["here", "in a child process"])
def checked(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Where a build checks the output against its record: in its own process, or (as at
    10,000 articles) in a child beside it, with the parent's own check made to fail so
    that only the child's answer can find a touched file. (A file added or removed moves
    its folder's mtime, and then the child leaves the walk to the build.)"""
    if request.param == "in a child process":
        monkeypatch.setattr(cache, "_CHECK_ELSEWHERE_MIN", 0)

        def not_here(*args: object) -> None:
            raise AssertionError("the output was checked in the build's own process")

        monkeypatch.setattr(cache, "intact_files", not_here)
    return str(request.param)


def test_a_hand_edited_output_file_is_restored(project: Path, checked: str) -> None:
    build(project)
    page = project.parent / "output" / "index.html"
    good = page.read_bytes()
    page.write_bytes(b"vandalised")
    report = build(project)
    assert page.read_bytes() == good
    assert report.written == 1


@pytest.mark.parametrize("where", ["stray.html", "dispatches/stray.html", "sources/new-folder/stray.html"])
def test_a_file_added_to_the_output_by_hand_is_removed(project: Path, where: str) -> None:
    build(project)
    stray = project.parent / "output" / where
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"not ours")
    build(project)
    assert not stray.exists()


def test_a_file_removed_from_the_output_by_hand_is_restored(project: Path) -> None:
    build(project)
    page = next((project.parent / "output" / "dispatches").glob("*/index.html"))
    good = page.read_bytes()
    page.unlink()
    assert build(project).written == 1
    assert page.read_bytes() == good


def test_a_page_touched_by_hand_is_made_again_beside_an_edit(project: Path, checked: str, tmp_path: Path) -> None:
    """The pages are first rendered as if the output were untouched, while the check runs:
    one the check then finds touched is rendered after all, though no input of it changed."""
    build(project)
    site = project.parent / "output"
    first, second = source_files(project)[:2]
    untouched_by_edit = site / "sources" / second.stem / f"{second.stem}.md"
    assert untouched_by_edit.is_file()
    untouched_by_edit.write_bytes(b"vandalised")
    first.write_text(first.read_text(encoding="utf-8") + "\n本报讯 为测试而加的一段。\n", encoding="utf-8")
    build(project)
    fresh = dataclasses.replace(load(project), output_dir=str(tmp_path / "fresh"))
    pipeline.build(fresh, quiet=True, clean_build=True)
    assert {path: data for path, (_, _, data) in files_state(site).items()} == {
        path: data for path, (_, _, data) in files_state(tmp_path / "fresh").items()
    }


def test_a_child_that_fails_leaves_the_check_to_the_build(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "_CHECK_ELSEWHERE_MIN", 0)
    monkeypatch.setattr(cache, "_CHECKER", "import sys; sys.exit(3)")
    build(project)
    page = project.parent / "output" / "index.html"
    good = page.read_bytes()
    page.write_bytes(b"vandalised")
    assert build(project).written == 1
    assert page.read_bytes() == good


def test_the_child_answers_only_for_the_record_it_was_told_of(project: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    build(project)
    site = project.parent / "output"
    stored = cache.BuildCache(site).load_record()
    assert stored is not None
    (site / "index.html").write_bytes(b"vandalised")
    folder = site.stat()
    (site / "feed.xml").unlink()
    os.utime(site, ns=(folder.st_atime_ns, folder.st_mtime_ns))  # a removal the folder's mtime does not show
    cache.answer_output_check(str(site), json.dumps(stored.stamp))
    answer = marshal.loads(capsysbinary.readouterr().out)
    assert sorted(answer) == ["feed.xml", "index.html"]
    assert answer["feed.xml"] is None and answer["index.html"][1] == len(b"vandalised")
    cache.answer_output_check(str(site), json.dumps([[1, 2, 3], None]))  # another record's stamp
    assert marshal.loads(capsysbinary.readouterr().out) is None
    (site / "stray.html").write_bytes(b"not ours")  # its folder's mtime moves: only a walk finds it
    cache.answer_output_check(str(site), json.dumps(stored.stamp))
    assert marshal.loads(capsysbinary.readouterr().out) is None


def test_clean_rereads_every_source_and_rewrites_every_file(project: Path, reads: list[str]) -> None:
    build(project)
    site = project.parent / "output"
    before = files_state(site)
    reads.clear()
    report = build(project, clean_build=True)
    assert sorted(reads) == [path.stem for path in source_files(project)]
    after = files_state(site)
    assert report.written == len(after)
    assert {path: data for path, (_, _, data) in after.items()} == {path: data for path, (_, _, data) in before.items()}
    assert all(after[path][0] != before[path][0] for path in after)


def test_clean_ignores_a_stale_stage_cache(project: Path) -> None:
    """The stage cache is trusted when its key matches; --clean trusts nothing."""
    config = load(project)
    build(project)
    source = pipeline.ingest.ingest(config.content_path)[0][0]
    # The build stamped each source with the day the accession register gives it.
    source = dataclasses.replace(source, accession=accessions.read_register(config.content_path)[0][source.file])
    entry = next((project.parent / cache.CACHE_FOLDER / "stages").rglob(f"{cache.stage_key(source, config)}.pickle"))
    text, articles, problems = parallel.loads(entry.read_bytes())
    stale = tuple(dataclasses.replace(article, headline="陈旧的缓存标题") for article in articles)
    entry.write_bytes(parallel.dumps((text, stale, problems)))
    # Without the gathered collection and the record, the next build must read the stages.
    (project.parent / cache.CACHE_FOLDER / "output.memo.pickle").unlink()
    cache.BuildCache(project.parent / "output").record_file.unlink()
    catalog = project.parent / "output" / "catalog.json"
    build(project)
    assert "陈旧的缓存标题" in catalog.read_text(encoding="utf-8")
    build(project, clean_build=True)
    assert "陈旧的缓存标题" not in catalog.read_text(encoding="utf-8")


def test_a_second_build_on_the_same_output_is_refused(project: Path) -> None:
    config = load(project)
    store = cache.BuildCache(config.output_path)
    with output.build_lock(store.lock_file, config.output_path):
        with pytest.raises(output.BuildLocked) as refused:
            pipeline.build(config, quiet=True)
    assert str(refused.value) == (
        f"{config.output_path}: another build (process {os.getpid()}) is writing this output folder; "
        f"wait for it to finish (lock file {store.lock_file})"
    )
    build(project)  # the lock is released with its holder


def test_a_failed_build_leaves_the_previous_site(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    build(project)
    site = project.parent / "output"
    before = files_state(site)
    project.write_text(project.read_text(encoding="utf-8").replace("title: 剪报 Jianbao", "title: 新"), encoding="utf-8")

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("search failed")

    # Render has run by then: its pages must not reach the site either.
    monkeypatch.setattr(search, "search_pages", broken)
    with pytest.raises(RuntimeError, match="search failed"):
        build(project)
    assert files_state(site) == before


# The writer on its own -------------------------------------------------------------


def pages(**files: str) -> tuple[Page, ...]:
    return tuple(Page(path.replace("__", "/"), text.encode()) for path, text in sorted(files.items()))


def test_an_interrupted_write_leaves_the_previous_site_and_no_litter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    first = output.write_site(pages(a="1", b__c="2"), site, record={})
    before = files_state(site)

    class Interrupt(output.Progress):
        def update(self, label: str, done: int, total: int) -> None:
            if done == 2:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        output.write_site(pages(a="new", b__c="new", d="3"), site, record=first.files, progress=Interrupt(False))
    assert files_state(site) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_the_folders_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (tmp_path / "site.building-4242" / "x").mkdir(parents=True)
    (tmp_path / "site.previous-4243").mkdir()
    (tmp_path / "site.keep").mkdir()
    output.write_site(pages(a="1"), site, record={})
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site", "site.keep"]


def test_files_that_are_not_pages_are_removed_and_unsafe_paths_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = output.write_site(pages(a="1", b="2"), site, record={})
    report = output.write_site(pages(a="1"), site, record=first.files)
    assert (report.written, report.removed) == ((), ("b",))
    assert sorted(path.name for path in site.iterdir()) == ["a"]
    with pytest.raises(ValueError, match=r"^'\.\./x': not a safe relative output path$"):
        output.write_site((Page("../x", b""),), site, record=report.files)
    with pytest.raises(ValueError, match=r"^'a': two pages have this output path$"):
        output.write_site((Page("a", b""), Page("a", b"")), site, record=report.files)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only_and_not_when_quiet() -> None:
    for stream, enabled, drawn in ((Terminal(), True, True), (Terminal(), False, False), (io.StringIO(), True, False)):
        progress = output.Progress(enabled, stream)
        progress.update("write", 5, 10)
        progress.update("write", 10, 10)
        progress.finish()
        assert bool(stream.getvalue()) == drawn
    terminal = Terminal()
    output.Progress(True, terminal).update("write", 10, 10)
    assert terminal.getvalue() == "\rwrite    [" + "#" * 30 + "] 10/10\x1b[K"


def test_write_site_keeps_the_named_files_without_their_bytes(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = output.write_site((Page("a/index.html", b"A"), Page("b.txt", b"B")), site, record=None)
    inode = (site / "a" / "index.html").stat().st_ino
    second = output.write_site((Page("b.txt", b"B2"),), site, record=first.files, kept={"a/index.html"})
    assert (site / "a" / "index.html").read_bytes() == b"A"
    assert (site / "a" / "index.html").stat().st_ino == inode
    assert (site / "b.txt").read_bytes() == b"B2"
    assert (second.written, second.removed) == (("b.txt",), ())
    assert second.files["a/index.html"] == first.files["a/index.html"]


def test_write_site_refuses_to_keep_a_file_changed_since_the_record(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = output.write_site((Page("a/index.html", b"A"),), site, record=None)
    (site / "a" / "index.html").write_bytes(b"edited by hand")
    with pytest.raises(ValueError, match="^a file to keep is missing or changed since the build record$"):
        output.write_site((), site, record=first.files, kept={"a/index.html"})
    assert (site / "a" / "index.html").read_bytes() == b"edited by hand"


# Incremental builds against clean ones ----------------------------------------------


def _edits(project: Path) -> list[tuple[str, Callable[[], None]]]:
    """Each kind of input change, applied in turn to the seed project."""
    content = project.parent / "content"
    first, second = source_files(project)[:2]

    def append() -> None:
        first.write_text(first.read_text(encoding="utf-8") + "\n\n增补一段测试文字，用来检验增量构建。\n", encoding="utf-8")

    def reprint() -> None:
        # Another paper's copy of the second source: its articles join existing dispatches.
        text = second.read_text(encoding="utf-8").replace("。", "。", 1)
        (content / "zz_reprint.txt").write_text(text.replace("记者", "本报记者", 1), encoding="utf-8")

    def retitle() -> None:
        lines = second.read_text(encoding="utf-8").split("\n")
        index = next(i for i, line in enumerate(lines) if line.strip())
        lines[index] = lines[index].strip() + "（修订）"
        second.write_text("\n".join(lines), encoding="utf-8")

    def sidecar() -> None:
        Path(f"{first}.yaml").write_text("date: 2022-05-07\npublication: 测试日报\n", encoding="utf-8")

    def template() -> None:
        base = project.parent / "themes" / "default" / "templates" / "base.html"
        base.write_text(base.read_text(encoding="utf-8") + "<!-- edited -->\n", encoding="utf-8")

    def setting() -> None:
        project.write_text(project.read_text(encoding="utf-8").replace("page_size: 50", "page_size: 2"), encoding="utf-8")

    def remove() -> None:
        (content / "zz_reprint.txt").unlink()

    return [("append", append), ("reprint", reprint), ("retitle", retitle), ("sidecar", sidecar),
            ("template", template), ("setting", setting), ("remove", remove)]


def _contents(folder: Path) -> dict[str, bytes]:
    return {path: data for path, (_, _, data) in files_state(folder).items()}


@pytest.mark.parametrize("memo_in_memory", [False, True], ids=["build", "serve"])
def test_after_every_kind_of_edit_the_site_equals_a_clean_build(tmp_path: Path, memo_in_memory: bool) -> None:
    """What an incremental build reuses (read sources, collation, unchanged pages, the
    search index) never shows: after each edit its output equals a --clean build's."""
    project = make_project(tmp_path / "project")
    memo: pipeline.BuildMemo | None = None

    def incremental() -> pipeline.BuildReport:
        nonlocal memo
        if not memo_in_memory:
            return build(project)
        report, memo = pipeline.rebuild(load(project), memo, quiet=True)
        return report

    incremental()
    for name, edit in _edits(project):
        edit()
        report = incremental()
        clean_output = tmp_path / f"clean-{name}"
        clean = pipeline.build(dataclasses.replace(load(project), output_dir=str(clean_output)), clean_build=True, quiet=True)
        assert _contents(project.parent / "output") == _contents(clean_output), name
        assert (report.sources, report.articles, report.dispatches, report.pages) == (
            clean.sources, clean.articles, clean.dispatches, clean.pages
        ), name


def _twenty_pages(**changes: str) -> tuple[Page, ...]:
    files = {f"p{n}__index_html": f"page {n}" for n in range(20)} | changes
    return pages(**{name: text for name, text in files.items() if text})


def test_a_small_change_is_moved_into_the_site_in_place(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = output.write_site(_twenty_pages(), site, record=None)
    folder = site.stat().st_ino
    before = files_state(site)
    pages = _twenty_pages(p1__index_html="", p3__index_html="changed", new__index_html="new")
    report = output.write_site(pages, site, record=first.files, folders=first.folders)
    assert (report.written, report.removed) == (("new/index_html", "p3/index_html"), ("p1/index_html",))
    # Only the folders above the changed files were looked at again, and they are right.
    assert report.folders == output.folder_mtimes(site, report.files)
    assert site.stat().st_ino == folder  # not swapped: moved in file by file
    after = files_state(site)
    assert after["p3/index_html"][2] == b"changed" and after["new/index_html"][2] == b"new"
    assert not (site / "p1").exists()  # the emptied folder goes with its file
    assert all(after[path] == before[path] for path in before if path not in ("p1/index_html", "p3/index_html"))
    assert report.files == {path: output.FileState(*_state(site / path)) for path in after}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def _state(path: Path) -> tuple[str, int, int]:
    import hashlib

    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_size, stat.st_mtime_ns


def test_a_small_change_interrupted_before_its_commit_leaves_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    first = output.write_site(_twenty_pages(), site, record=None)
    before = files_state(site)

    class Interrupt(output.Progress):
        def update(self, label: str, done: int, total: int) -> None:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        output.write_site(_twenty_pages(p3__index_html="changed"), site, record=first.files, progress=Interrupt(False))
    assert files_state(site) == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_a_build_that_dies_while_moving_files_in_is_finished_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the system cannot exchange two files, each is moved in by a rename."""
    monkeypatch.setattr(output, "_renameat2", lambda: None)
    site = tmp_path / "site"
    first = output.write_site(_twenty_pages(), site, record=None)
    real_replace = os.replace
    moves: list[str] = []

    def dying_replace(source: Path, target: Path) -> None:
        if moves:
            raise SystemExit("killed")  # the process dies after its first move
        moves.append(str(target))
        real_replace(source, target)

    monkeypatch.setattr(output.os, "replace", dying_replace)
    with pytest.raises(SystemExit):
        output.write_site(_twenty_pages(p3__index_html="changed", p4__index_html="changed too"), site, record=first.files)
    monkeypatch.setattr(output.os, "replace", real_replace)
    assert len(moves) == 1  # half the change is in the site; the journal says what is left
    output.recover(site)
    assert (site / "p3" / "index_html").read_bytes() == b"changed"
    assert (site / "p4" / "index_html").read_bytes() == b"changed too"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


@pytest.mark.parametrize("dies", ["before the exchange", "after the exchange"])
def test_a_build_that_dies_while_exchanging_files_in_is_finished_by_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dies: str
) -> None:
    """After an exchange the staged name holds the replaced file until it is removed: the
    next build must remove it, not exchange it back into the site."""
    site = tmp_path / "site"
    first = output.write_site(_twenty_pages(), site, record=None)
    real_exchange = output._exchange
    exchanged: list[Path] = []

    def dying_exchange(new: Path, old: Path, *, missing_ok: bool = False) -> bool:
        if exchanged and dies == "before the exchange":
            raise SystemExit("killed")
        done = real_exchange(new, old, missing_ok=missing_ok)
        exchanged.append(old)
        if dies == "after the exchange":
            raise SystemExit("killed")
        return done

    monkeypatch.setattr(output, "_exchange", dying_exchange)
    with pytest.raises(SystemExit):
        output.write_site(_twenty_pages(p3__index_html="changed", p4__index_html="changed too"), site, record=first.files)
    monkeypatch.setattr(output, "_exchange", real_exchange)
    assert [path.name for path in exchanged] == ["index_html"]
    output.recover(site)
    assert (site / "p3" / "index_html").read_bytes() == b"changed"
    assert (site / "p4" / "index_html").read_bytes() == b"changed too"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_a_large_replaced_file_is_freed_after_the_write_and_the_next_write_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    large = output._FREED_LATER_BYTES
    first = output.write_site(_twenty_pages(big__data_json="a" * large, small__index_html="x"), site, record=None)
    kept: list[list[tuple[str, bytes]]] = []
    real_remove = output._remove_later

    def looking(folder: Path) -> None:
        kept.append(sorted((entry.name, entry.read_bytes()[:1]) for entry in folder.iterdir() if entry.name.startswith("replaced-")))
        real_remove(folder)

    monkeypatch.setattr(output, "_remove_later", looking)
    second = output.write_site(_twenty_pages(big__data_json="b" * large, small__index_html="y"), site, record=first.files)
    assert second.written == ("big/data_json", "small/index_html")
    assert (site / "big" / "data_json").read_bytes() == b"b" * large
    # Only the large file was kept by a second name (small ones are freed as they are
    # replaced), and its staging folder is removed after the write.
    assert [[(name.split("-")[0], head) for name, head in entries] for entries in kept] == [[("replaced", b"a")]]
    output._removed_before_writing()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]
    # Written again at once: the next write's staging folder has the same name.
    third = output.write_site(_twenty_pages(big__data_json="c" * large), site, record=second.files)
    assert "big/data_json" in third.written and (site / "big" / "data_json").read_bytes() == b"c" * large
    output._removed_before_writing()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_a_large_file_is_replaced_on_a_file_system_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    large = output._FREED_LATER_BYTES
    first = output.write_site(_twenty_pages(big__data_json="a" * large), site, record=None)

    def no_link(source: Path, target: Path) -> None:
        raise OSError(errno.EPERM, "hard links not supported")

    monkeypatch.setattr(output.os, "link", no_link)
    second = output.write_site(_twenty_pages(big__data_json="b" * large), site, record=first.files)
    output._removed_before_writing()
    assert second.written == ("big/data_json",) and (site / "big" / "data_json").read_bytes() == b"b" * large
    assert sorted(path.name for path in tmp_path.iterdir()) == ["site"]


def test_a_record_kept_in_memory_is_used_only_while_its_files_are_the_ones_saved(project: Path) -> None:
    build(project)
    store = cache.BuildCache(project.parent / "output")
    loaded = store.load_record()
    assert loaded is not None
    saved = store.save_record(loaded.record)
    assert saved is not None and saved.stamp is not None
    stale = dataclasses.replace(saved, record=dataclasses.replace(saved.record, folders={"": -1}))
    assert store.load_record(stale) is stale
    # Another build replaced the file: its record is read, not the one in memory.
    cache.BuildCache(project.parent / "output").save_record(dataclasses.replace(loaded.record, folders={"": -2}))
    reread = store.load_record(stale)
    assert reread is not None and reread.record.folders == {"": -2}
    # The same when another build wrote only its changes.
    stale = dataclasses.replace(reread, record=dataclasses.replace(reread.record, folders={"": -3}))
    changed = dataclasses.replace(reread.record, folders={**reread.record.folders, "sources": -4})
    cache.BuildCache(project.parent / "output").save_record(changed, reread)
    again = store.load_record(stale)
    assert again is not None and again is not stale and again.record.folders == {"": -2, "sources": -4}


def _a_few_changes(record: cache.BuildRecord) -> cache.BuildRecord:
    """``record`` with one file changed, one gone, one new, a page key and a folder's mtime changed."""
    files = dict(record.files)
    changed, gone = sorted(files)[:2]
    files[changed] = output.FileState("0" * 64, 1, 2)
    del files[gone]
    files["new/index.html"] = output.FileState("1" * 64, 3, 4)
    keys = {**record.keys, changed: "another key"}
    keys.pop(gone, None)
    return dataclasses.replace(record, files=files, keys=keys, folders={**record.folders, "new": 5})


def test_a_small_change_to_the_record_is_written_alone_and_read_back_whole(project: Path) -> None:
    build(project)
    store = cache.BuildCache(project.parent / "output")
    base = store.load_record()
    assert base is not None
    base_bytes = store.record_file.read_bytes()
    edited = _a_few_changes(base.record)
    saved = store.save_record(edited, base)
    assert saved is not None
    assert store.record_file.read_bytes() == base_bytes  # only the changes file was written
    reread = cache.BuildCache(project.parent / "output").load_record()
    assert reread is not None
    assert (reread.record.files, reread.record.keys, reread.record.folders) == (edited.files, edited.keys, edited.folders)
    assert reread.record == edited and reread.serial == base.serial
    # Changes stack on the base, not on each other: a second save replaces the first changes.
    edited_again = dataclasses.replace(edited, folders={**edited.folders, "new": 6})
    store.save_record(edited_again, reread)
    assert cache.BuildCache(project.parent / "output").load_record().record == edited_again  # type: ignore[union-attr]


def test_changes_to_a_replaced_record_are_never_applied_to_its_successor(project: Path) -> None:
    build(project)
    store = cache.BuildCache(project.parent / "output")
    base = store.load_record()
    assert base is not None
    store.save_record(_a_few_changes(base.record), base)
    changes = store.record_file.with_name(store.record_file.name + "-changes")
    written_changes = changes.read_bytes()
    # A build without the old record in hand writes a whole new base; the old changes go.
    replaced = store.save_record(base.record)
    assert replaced is not None and replaced.serial != base.serial and not changes.exists()
    # Changes left from the old base (a build that died between the two files) are ignored.
    changes.write_bytes(written_changes)
    reread = cache.BuildCache(project.parent / "output").load_record()
    assert reread is not None and reread.record == base.record


def test_a_record_that_changed_much_is_written_whole_again(project: Path) -> None:
    build(project)
    store = cache.BuildCache(project.parent / "output")
    base = store.load_record()
    assert base is not None
    folders = {f"many/{n}": n for n in range(len(base.record.files))}
    saved = store.save_record(dataclasses.replace(base.record, folders={**base.record.folders, **folders}), base)
    assert saved is not None and saved.serial != base.serial
    assert not store.record_file.with_name(store.record_file.name + "-changes").exists()


def test_sources_unchanged_since_the_last_build_keep_their_records(project: Path) -> None:
    config = load(project)
    _, memo = pipeline.rebuild(config, None, quiet=True)
    assert memo is not None
    before = {source.file: source for source in memo.collection.sources}
    edited = source_files(project)[0]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n本报讯 补记一句。\n", encoding="utf-8")
    _, memo = pipeline.rebuild(config, memo, quiet=True)
    assert memo is not None
    kept = {source.file for source in memo.collection.sources if source is before[source.file]}
    assert kept == set(before) - {edited.name}
    # A record is kept only with the accession date it was made with.
    source = before[edited.name]
    assert pipeline._stamped(source, source.accession, source) is source
    moved = pipeline._stamped(source, "1999-01-01", source)
    assert moved.accession == "1999-01-01" and dataclasses.replace(moved, accession=source.accession) == source


def test_a_serve_start_on_a_built_site_loads_what_its_first_edit_needs(project: Path) -> None:
    build(project)
    tokenizer._word_run.cache_clear()
    accessions._interpret.cache_clear()
    report, memo = pipeline.rebuild(load(project), None, quiet=True)
    assert report.written == 0 and memo is not None
    assert tokenizer._word_run.cache_info().currsize == 1
    assert accessions._interpret.cache_info().currsize == 1


def test_the_stage_cache_holds_the_last_build_only_after_edits_in_either_path(project: Path) -> None:
    config = load(project)
    stages = project.parent / cache.CACHE_FOLDER / "stages"
    _, memo = pipeline.rebuild(config, None, quiet=True)
    source = source_files(project)[0]
    original = source.read_text(encoding="utf-8")
    for text in (original + "\n补记一段。\n", original):
        source.write_text(text, encoding="utf-8")
        _, memo = pipeline.rebuild(config, memo, quiet=True)  # serve: the last keys in memory
        assert len(list(stages.rglob("*.pickle"))) == len(source_files(project))
    source.write_text(original + "\n又补记一段。\n", encoding="utf-8")
    build(project)  # the command: the keys come from the stored memo
    assert len(list(stages.rglob("*.pickle"))) == len(source_files(project))


def test_a_build_after_a_serve_session_renders_only_what_changed(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from generator import render

    config = load(project)
    build(project)  # stores its memo
    source = source_files(project)[0]
    original = source.read_text(encoding="utf-8")
    _, memo = pipeline.rebuild(config, None, quiet=True)
    source.write_text(original.replace("。", "，", 1), encoding="utf-8")
    pipeline.rebuild(config, memo, quiet=True)  # serve: a new record, the stored memo left as it was
    rendered: list[int] = []
    real = render.render_site

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        result = real(*args, **kwargs)
        rendered.append(len(result.pages))
        return result

    monkeypatch.setattr(render, "render_site", counting)
    source.write_text(original, encoding="utf-8")
    build(project)
    # The keys of the pages come with the record they describe, not with the memo.
    assert rendered and 0 < rendered[0] < 40
