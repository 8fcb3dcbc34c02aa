"""config.yaml, validated into a typed object at load.

Every key has a type and a default; an unknown key or a value of the wrong type
is a ``ConfigError`` naming the key and the file, so a typo never passes silently.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(Exception):
    """config.yaml is not what Jianbao understands."""


class TextDatesLoader(yaml.SafeLoader):
    """Safe YAML that leaves dates as the text that was typed.

    PyYAML would turn 2022-05-06 into a date object itself, and fails with a bare
    ValueError (no file, no line) on an impossible one like 2022-13-45. Read as text,
    a date is checked where it is used, with a message naming the key.
    """


TextDatesLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass(frozen=True)
class CollateConfig:
    # Character shingle length for the n-gram candidate index.
    shingle: int = 5
    # The index keeps one shingle in this many (those starting at an anchor character,
    # so every copy keeps the same ones): fewer shingles, faster grouping.
    sample: int = 3
    # Each article looks up its this-many rarest shingles to find its candidate copies.
    probes: int = 16
    # A candidate pair is a reprint when the smaller witness has at least this share
    # of its shingles in the larger one (containment, so abridged copies qualify) ...
    containment: float = 0.5
    # ... and the aligned characters cover at least this share of the smaller witness ...
    aligned: float = 0.6
    # ... and the smaller is at least this share of the larger's length: a short text
    # found whole inside a long one is a quotation, not an abridged copy.
    min_length_share: float = 0.2


@dataclass(frozen=True)
class RelatedConfig:
    # How many related dispatches a page lists at most.
    limit: int = 5
    # A link needs at least this score: the sum over what two dispatches share of the
    # kind's weight times the term's rarity (1 for a term of one dispatch, towards 0
    # for a term of all): two or three rare shared terms.
    threshold: float = 2.0
    # Terms in more than this share of the dispatches are ignored (Hugo's cardinalityThreshold).
    cardinality_threshold: float = 0.5
    # What one shared term of each kind is worth before its rarity (idf) is applied.
    people_weight: float = 1.5
    places_weight: float = 1.0
    keywords_weight: float = 1.0
    dates_weight: float = 0.5
    # Printed in the same source (one paper, one day).
    sources_weight: float = 0.5


@dataclass(frozen=True)
class FeedConfig:
    limit: int = 20


@dataclass(frozen=True)
class Config:
    title: str = "剪报 Jianbao"
    description: str = "新闻电讯档案"
    language: str = "zh-Hans"
    # Used only where an absolute URL is required: feed, sitemap, canonical link.
    base_url: str = "https://example.org/"
    content_dir: str = "content"
    output_dir: str = "output"
    themes_dir: str = "themes"
    theme: str = "default"
    # Year to assume for sources that name none; None means 'never guess'.
    default_year: int | None = None
    page_size: int = 50
    collate: CollateConfig = field(default_factory=CollateConfig)
    related: RelatedConfig = field(default_factory=RelatedConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    # The folder the config file was read from; relative paths are taken from here.
    root: Path = field(default=Path("."), compare=False)

    @property
    def content_path(self) -> Path:
        return self.root / self.content_dir

    @property
    def output_path(self) -> Path:
        return self.root / self.output_dir

    @property
    def themes_path(self) -> Path:
        return self.root / self.themes_dir

    def digest(self) -> str:
        """A hash of every setting that can change the output (cache keys use it)."""
        data = dataclasses.asdict(self)
        data.pop("root")
        return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _type_name(annotation: Any) -> str:
    if isinstance(annotation, type):
        return {"str": "a string", "int": "an integer", "float": "a number", "bool": "true or false"}.get(
            annotation.__name__, annotation.__name__
        )
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    return " or ".join(_type_name(a) for a in args) + " or null"


def _convert(value: Any, annotation: Any, key: str, file: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(annotation):
            return None
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _convert(value, inner, key, file)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{file}: '{key}' must be a mapping, not {type(value).__name__}")
        return _build(annotation, value, key + ".", file)
    ok = isinstance(value, annotation) and not (annotation is not bool and isinstance(value, bool))
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not ok:
        raise ConfigError(
            f"{file}: '{key}' must be {_type_name(annotation)}, not {value!r}"
        )
    return value


def _build(cls: type, data: dict[str, Any], prefix: str, file: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls) if f.name != "root"}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(
            f"{file}: unknown key '{prefix}{unknown[0]}' (known keys: {', '.join(sorted(fields))})"
        )
    values = {name: _convert(value, hints[name], prefix + name, file) for name, value in data.items()}
    return cls(**values)


def _check(config: Config, file: str) -> None:
    if config.default_year is not None and not 1000 <= config.default_year <= 9999:
        raise ConfigError(f"{file}: 'default_year' must be a year of four digits, not {config.default_year}")
    positive = {
        "page_size": config.page_size,
        "collate.shingle": config.collate.shingle,
        "collate.sample": config.collate.sample,
        "collate.probes": config.collate.probes,
        "related.limit": config.related.limit,
        "feed.limit": config.feed.limit,
    }
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"{file}: '{key}' must be at least 1, not {value}")
    shares = {
        "collate.containment": config.collate.containment,
        "collate.aligned": config.collate.aligned,
        "collate.min_length_share": config.collate.min_length_share,
        "related.cardinality_threshold": config.related.cardinality_threshold,
    }
    for key, value in shares.items():
        if not 0.0 < value <= 1.0:
            raise ConfigError(f"{file}: '{key}' must be a number above 0 and at most 1, not {value}")
    weights = {
        "related.threshold": config.related.threshold,
        "related.people_weight": config.related.people_weight,
        "related.places_weight": config.related.places_weight,
        "related.keywords_weight": config.related.keywords_weight,
        "related.dates_weight": config.related.dates_weight,
        "related.sources_weight": config.related.sources_weight,
    }
    for key, value in weights.items():
        if value < 0:
            raise ConfigError(f"{file}: '{key}' must not be negative, not {value}")


def load_config(path: Path | None) -> Config:
    """Read and validate config.yaml; with no path, or a missing default file, use the defaults."""
    if path is None:
        return Config(root=Path("."))
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{name}: no such file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{name}: not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        data = yaml.load(text, Loader=TextDatesLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: must be a mapping of keys to values")
    config: Config = _build(Config, data, "", name)
    _check(config, name)
    return dataclasses.replace(config, root=path.parent)
