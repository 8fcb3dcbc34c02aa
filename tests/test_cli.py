"""The command line: `check` lists every problem with its place; `build --strict` fails on them.

Each test runs in a temporary folder with its own content and config.yaml (themes
are taken from the repository), so nothing of the checkout is read or written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from generator import cli

ROOT = Path(__file__).resolve().parent.parent
GOOD = "快递业务量稳步回升\n\n新华社北京5月5日电 记者5日从国家邮政局获悉，“五一”假期全国快递业务量同比增长。\n"
STAND_IN = "一鼓作气实现社会面清零\n\n本报讯 要确保感染者和 risk 人群及时排查出来。\n"
SUMMARY = re.compile(r"^(\d+) sources, (\d+) articles, (\d+) dispatches, (\d+) skipped, (\d+) problems in \d+\.\d\d s$")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder holding config.yaml and content/ with one good source; the working directory."""
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "a_good.txt").write_text(GOOD, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        f"title: 测试\nthemes_dir: {json.dumps(str(ROOT / 'themes'))}\noutput_dir: site\n", encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _add_bad_files(site: Path) -> None:
    content = site / "content"
    (content / "b_empty.txt").write_bytes(b"")
    (content / "c_binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (content / "d_stand_in.txt").write_text(STAND_IN, encoding="utf-8")
    (content / "d_stand_in.txt.yaml").write_text("publication: 解放日报\nissue: 3\n", encoding="utf-8")


def test_check_prints_each_problem_with_file_and_line(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _add_bad_files(site)
    assert cli.main(["check"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[:-1] == [
        "b_empty.txt: skipped: empty file",
        "c_binary.txt: skipped: not text (contains NUL bytes)",
        "d_stand_in.txt.yaml:2: unknown key 'issue' (known keys: added, date, language, publication, year)",
        "d_stand_in.txt:3: flagged latin-stand-in: 保感染者和 risk 人群及时排",
    ]
    summary = SUMMARY.match(out[-1])
    assert summary is not None, out[-1]
    assert summary.group(1, 2, 4, 5) == ("2", "2", "2", "4")
    assert not (site / "site").exists(), "check must write nothing"


def test_check_without_problems_exits_zero(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and SUMMARY.match(out[0])


def test_check_as_a_module_with_content_flag(site: Path) -> None:
    other = site / "other"
    other.mkdir()
    (other / "x.txt").write_bytes(b"")
    # The package is found from the checkout whether or not it is installed.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run(
        [sys.executable, "-m", "generator", "check", "--content", "other"],
        cwd=site, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "x.txt: skipped: empty file"
    assert SUMMARY.match(lines[1]) and lines[1].startswith("0 sources, 0 articles")


def test_config_error_names_the_file_and_exits_2(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (site / "bad.yaml").write_text("title: x\npage_size: many\n", encoding="utf-8")
    assert cli.main(["check", "--config", "bad.yaml"]) == 2
    assert capsys.readouterr().err == "error: bad.yaml: 'page_size' must be an integer, not 'many'\n"


def test_missing_content_folder_exits_2(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["check", "--content", "nowhere"]) == 2
    assert capsys.readouterr().err == f"error: {site / 'nowhere'}: content folder not found\n"


def test_flags_override_the_config_file(site: Path) -> None:
    args = cli.make_parser().parse_args(["build", "--content", "elsewhere", "--output", "out"])
    config = cli.load_from_args(args)
    assert config.title == "测试"
    assert config.content_path == site / "elsewhere"
    assert config.output_path == site / "out"


def test_build_strict_fails_on_skipped_or_flagged_files(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build", "--strict", "--quiet"]) == 0, capsys.readouterr()
    capsys.readouterr()

    _add_bad_files(site)
    assert cli.main(["build", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "b_empty.txt: skipped: empty file" in captured.err.splitlines()
    assert re.search(r"^2 sources, \d+ articles, .*2 skipped, 4 problems, ", captured.out, re.MULTILINE)
    catalog = json.loads((site / "site" / "catalog.json").read_text(encoding="utf-8"))
    assert catalog["skipped"] == [
        {"file": "b_empty.txt", "reason": "empty file"},
        {"file": "c_binary.txt", "reason": "not text (contains NUL bytes)"},
    ]

    assert cli.main(["build", "--strict", "--quiet"]) == 1
    assert "strict: failing because files were skipped or problems flagged" in capsys.readouterr().err
