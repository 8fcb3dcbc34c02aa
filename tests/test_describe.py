"""Stage 3b, describe: every pair in tests/fixtures/describe/ (NAME.txt in, NAME.yaml expected).

NAME.yaml may give a ``sidecar`` (what NAME.txt.yaml would hold) and a ``config``
(keys of config.yaml) the source is described with. For each article it gives the
dateline's date as written, the date (value, precision, source), the people in order,
keywords that must be among those found, and optionally all the ``keywords``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from generator.clean import clean
from generator.config import Config
from generator.describe import describe
from generator.ingest import read_file
from generator.models import Sidecar
from generator.split import split

FIXTURE_STAGE = "describe"


def test_describe_fixture(fixture_case: tuple[Path, dict]) -> None:
    path, expected = fixture_case
    source, _, _ = read_file(path, path.name)
    assert source is not None
    source = dataclasses.replace(source, sidecar=Sidecar(**expected.get("sidecar", {})))
    config = Config(**expected.get("config", {}))
    text = clean(source)
    articles, _ = split(text)
    described = describe(articles, text, config)

    assert len(described) == len(expected["articles"])
    for article, want in zip(described, expected["articles"]):
        assert (article.dateline.date if article.dateline else None) == want["dateline_date"]
        date = article.date
        assert {"value": date.value, "precision": date.precision, "source": date.source} == want["date"]
        assert list(article.people) == want["people"]
        missing = [term for term in want["keywords_include"] if term not in article.keywords]
        assert not missing, article.keywords
        if "keywords" in want:
            assert list(article.keywords) == want["keywords"]
