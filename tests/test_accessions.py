"""The accession register: the day each source entered the archive, from its first build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from generator import accessions, pipeline
from generator.cli import main
from generator.config import load_config

REPO = Path(__file__).resolve().parent.parent
FIRST_DAY = "1700000000"  # 2023-11-14 UTC
LATER_DAY = "1710000000"  # 2024-03-09 UTC

ARTICLE_A = "本报讯 记者从市交通局获悉，城市地铁三号线今日开通运营，全长二十公里，设站十五座。\n"
ARTICLE_B = "新华社北京5月5日电 国家统计局今天发布数据，四月份全国居民消费价格同比上涨百分之二。\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a.txt").write_text(ARTICLE_A, encoding="utf-8")
    shutil.copytree(REPO / "themes", tmp_path / "themes")
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    return tmp_path


def build(project: Path) -> pipeline.BuildReport:
    return pipeline.build(load_config(project / "config.yaml"), quiet=True)


def provenance(project: Path) -> dict[str, tuple[str | None, str | None]]:
    manifest = json.loads((project / "output" / "manifest.json").read_text(encoding="utf-8"))
    return {source["file"]: (source["added"], source["added_from"]) for source in manifest["sources"]}


def test_the_first_build_records_the_day_and_later_builds_keep_it(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIRST_DAY)
    build(project)
    register = project / "content" / "accessions.yaml"
    assert accessions.read_register(project / "content") == ({"a.txt": "2023-11-14"}, ())
    assert provenance(project) == {"a.txt": ("2023-11-14", "register")}
    assert "2023-11-14" in (project / "output" / "sources" / "a" / "index.html").read_text(encoding="utf-8")
    assert 'added: "2023-11-14"' in (project / "output" / "sources" / "a" / "a.md").read_text(encoding="utf-8")

    # Months later a new file arrives: it gets the new day, the first keeps its own.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", LATER_DAY)
    (project / "content" / "b.txt").write_text(ARTICLE_B, encoding="utf-8")
    build(project)
    assert provenance(project) == {"a.txt": ("2023-11-14", "register"), "b.txt": ("2024-03-09", "register")}
    text = register.read_text(encoding="utf-8")
    assert text.startswith("# Jianbao accession register")
    assert text.endswith("a.txt: '2023-11-14'\nb.txt: '2024-03-09'\n")

    # A file that leaves content/ stays in the register: the archive received it once.
    (project / "content" / "a.txt").unlink()
    build(project)
    assert accessions.read_register(project / "content")[0] == {"a.txt": "2023-11-14", "b.txt": "2024-03-09"}


def test_a_build_with_nothing_new_leaves_the_register_alone(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIRST_DAY)
    build(project)
    register = project / "content" / "accessions.yaml"
    before = register.stat().st_mtime_ns
    monkeypatch.setenv("SOURCE_DATE_EPOCH", LATER_DAY)
    (project / "content" / "a.txt").write_text(ARTICLE_A + "补记一句。\n", encoding="utf-8")
    report = build(project)
    assert report.written > 0
    assert register.stat().st_mtime_ns == before
    assert provenance(project) == {"a.txt": ("2023-11-14", "register")}


def test_a_sidecar_date_wins_over_the_register(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIRST_DAY)
    (project / "content" / "a.txt.yaml").write_text("added: 2001-02-03\n", encoding="utf-8")
    build(project)
    assert provenance(project) == {"a.txt": ("2001-02-03", "sidecar")}


def test_check_writes_no_register(project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(project)
    assert main(["check"]) == 0
    assert not (project / "content" / "accessions.yaml").exists()


def test_a_hand_corrected_date_is_used(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIRST_DAY)
    build(project)
    register = project / "content" / "accessions.yaml"
    register.write_text(register.read_text(encoding="utf-8").replace("2023-11-14", "2020-01-02"), encoding="utf-8")
    build(project)
    assert provenance(project) == {"a.txt": ("2020-01-02", "register")}


@pytest.mark.parametrize(
    ("register", "message"),
    [
        (
            "a.txt: 2023-13-01\n",
            "accessions.yaml:1: accession of 'a.txt' ignored: the date must be an ISO date like 2022-05-05, not '2023-13-01'",
        ),
        ("a.txt: [2023-01-01\n", "accessions.yaml:2: accession register ignored: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        ("- a.txt\n", "accessions.yaml: accession register ignored: must map file names to dates"),
    ],
)
def test_a_broken_register_is_reported_and_left_untouched(
    project: Path, monkeypatch: pytest.MonkeyPatch, register: str, message: str
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", FIRST_DAY)
    (project / "content" / "accessions.yaml").write_text(register, encoding="utf-8")
    report = build(project)
    assert message in [str(problem) for problem in report.problems]
    assert (project / "content" / "accessions.yaml").read_text(encoding="utf-8") == register
    assert provenance(project) == {"a.txt": (None, None)}


@pytest.mark.parametrize("day", ["2023-02-30", "2023-2-03", "２０２３-０１-０１", "2023-01-01T00:00"])
def test_a_register_day_must_be_a_real_iso_day_in_ascii_digits(tmp_path: Path, day: str) -> None:
    (tmp_path / "accessions.yaml").write_text(f"a.txt: '{day}'\nb.txt: 2023-01-31\n", encoding="utf-8")
    dates, problems = accessions.read_register(tmp_path)
    assert dates == {"b.txt": "2023-01-31"}
    assert [str(problem) for problem in problems] == [
        f"accessions.yaml:1: accession of 'a.txt' ignored: the date must be an ISO date like 2022-05-05, not {day!r}"
    ]
