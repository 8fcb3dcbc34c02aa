"""config.yaml: validated into a typed Config; every mistake names the key and the file."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from generator.config import CollateConfig, Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _known(cls: type) -> str:
    return ", ".join(sorted(f.name for f in dataclasses.fields(cls) if f.name != "root"))


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_the_repository_config_is_valid() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.root == ROOT


def test_values_are_read_and_relative_paths_taken_from_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: 旧报新读\ndefault_year: 2022\ncontent_dir: texts\ncollate:\n  containment: 1\n")
    config = load_config(path)
    assert (config.title, config.default_year) == ("旧报新读", 2022)
    assert config.collate.containment == 1.0 and isinstance(config.collate.containment, float)
    assert config.content_path == tmp_path / "texts"
    assert config.collate.shingle == CollateConfig().shingle


def test_no_file_means_the_defaults() -> None:
    assert load_config(None) == Config()


def test_an_empty_file_means_the_defaults(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "# nothing set\n")) == Config()


def test_a_date_like_value_is_text_not_a_crash(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: 2022-13-45\n")
    assert load_config(path).title == "2022-13-45"


def test_unknown_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "title: x\ntheme_dir: themes\n")
    assert _error(path) == f"{path}: unknown key 'theme_dir' (known keys: {_known(Config)})"


def test_nested_unknown_key(tmp_path: Path) -> None:
    path = _write(tmp_path, "collate:\n  shingles: 4\n")
    assert _error(path) == f"{path}: unknown key 'collate.shingles' (known keys: {_known(CollateConfig)})"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("page_size: ten\n", "'page_size' must be an integer, not 'ten'"),
        ("page_size: 2.5\n", "'page_size' must be an integer, not 2.5"),
        ("page_size: true\n", "'page_size' must be an integer, not True"),
        ("title: 12\n", "'title' must be a string, not 12"),
        ("default_year: '2022'\n", "'default_year' must be an integer, not '2022'"),
        ("collate: 5\n", "'collate' must be a mapping, not int"),
        ("collate:\n  containment: high\n", "'collate.containment' must be a number, not 'high'"),
        ("feed:\n  limit: [1, 2]\n", "'feed.limit' must be an integer, not [1, 2]"),
    ],
)
def test_wrong_type(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    assert _error(path) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("page_size: 0\n", "'page_size' must be at least 1, not 0"),
        ("feed:\n  limit: -3\n", "'feed.limit' must be at least 1, not -3"),
        ("collate:\n  shingle: 0\n", "'collate.shingle' must be at least 1, not 0"),
        ("collate:\n  containment: 1.5\n", "'collate.containment' must be a number above 0 and at most 1, not 1.5"),
        ("related:\n  cardinality_threshold: 0\n", "'related.cardinality_threshold' must be a number above 0 and at most 1, not 0.0"),
        ("collate:\n  sample: 0\n", "'collate.sample' must be at least 1, not 0"),
        ("collate:\n  probes: 0\n", "'collate.probes' must be at least 1, not 0"),
        ("collate:\n  min_length_share: 0\n", "'collate.min_length_share' must be a number above 0 and at most 1, not 0.0"),
        ("related:\n  people_weight: -1\n", "'related.people_weight' must not be negative, not -1.0"),
        ("default_year: 22\n", "'default_year' must be a year of four digits, not 22"),
    ],
)
def test_out_of_range(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    assert _error(path) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: x\ncollate:\n  shingle: 4\n bad: 1\n", ":4: not valid YAML (expected <block end>, but found '<block mapping start>')"),
        ("title: [x\n", ":2: not valid YAML (expected ',' or ']', but got '<stream end>')"),
        ("title: x: y\n", ":1: not valid YAML (mapping values are not allowed here)"),
    ],
)
def test_invalid_yaml_names_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    assert _error(path) == f"{path}{message}"


def test_not_a_mapping(tmp_path: Path) -> None:
    path = _write(tmp_path, "- title\n- theme\n")
    assert _error(path) == f"{path}: must be a mapping of keys to values"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert _error(path) == f"{path}: no such file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("title: 剪报\n".encode("gb18030"))
    assert _error(path) == f"{path}: not UTF-8 (invalid start byte at byte 7)"
