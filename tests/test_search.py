"""Search: the index equals lunr's, the shards merge exactly, the query set passes."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import lunr
import pytest
import yaml

from generator import pipeline, search
from generator.config import Config, load_config
from generator.models import Article, Collection, DateInfo, Dispatch
from generator.theme import Theme
from generator.tokenizer import index_tokens

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "themes" / "default" / "static" / "search"
QUERIES = yaml.safe_load((ROOT / "tests" / "search_queries.yaml").read_text(encoding="utf-8"))
needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")

# Loads a site's index scripts in node (as the page does with <script>s) and answers
# queries two ways: with engine.js over the shards, and, when a single lunr index file
# is given, with one lunr.js query over it holding the same required clauses.
NODE_RUNNER = """
const fs = require("fs"), vm = require("vm"), path = require("path");
const [staticDir, site, requestFile] = process.argv.slice(1);
const lunr = require(path.join(staticDir, "vendor/lunr-2.3.9/lunr.min.js"));
const tokenizer = require(path.join(staticDir, "tokenizer.js"));
const { createEngine } = require(path.join(staticDir, "engine.js"));
const request = JSON.parse(fs.readFileSync(requestFile, "utf8"));
const context = vm.createContext({});
const engine = createEngine({ lunr, tokenizer, load: (file) => {
  context.JianbaoSearch = engine.receiver;
  vm.runInContext(fs.readFileSync(path.join(site, file), "utf8"), context);
}});
const whole = request.whole ? lunr.Index.load(request.whole) : null;
(async () => {
  const answers = [];
  for (const query of request.queries) {
    const hits = await engine.searchAll(query);
    const answer = { query, hits: hits.map((h) => [h.ref, h.score]) };
    if (whole) {
      const { kept } = await engine.candidates(query);
      const results = kept.length ? whole.query((q) => kept.forEach((c) => q.term(c.term, {
        usePipeline: false, presence: lunr.Query.presence.REQUIRED,
        wildcard: c.kind === "prefix" ? lunr.Query.wildcard.TRAILING : lunr.Query.wildcard.NONE,
      }))) : [];
      answer.whole = results.map((r) => [r.ref, r.score]);
    }
    answers.push(answer);
  }
  process.stdout.write(JSON.stringify(answers));
})().catch((error) => { console.error(error); process.exit(1); });
"""


def run_node(site: Path, queries: list[str], tmp_path: Path, whole: dict[str, Any] | None = None) -> list[Any]:
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"queries": queries, "whole": whole}, ensure_ascii=False), encoding="utf-8")
    completed = subprocess.run(
        ["node", "-e", NODE_RUNNER, str(STATIC), str(site), str(request)],
        capture_output=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    answers: list[Any] = json.loads(completed.stdout.decode("utf-8"))
    return answers


def write_pages(pages: tuple[Any, ...], folder: Path) -> None:
    for page in pages:
        target = folder / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(page.content)


# ---------------------------------------------------------------- a hand-made collection


def make_article(article_id: str, headline: str, paragraphs: tuple[str, ...]) -> Article:
    source_id = article_id.rsplit("-", 1)[0]
    return Article(
        id=article_id,
        source_id=source_id,
        source=f"{source_id}.txt",
        index=int(article_id.rsplit("-", 1)[1]),
        kind="article",
        headline=headline,
        subheadline=None,
        kicker=None,
        dateline=None,
        paragraphs=paragraphs,
        pull_quotes=(),
        line=1,
        end_line=len(paragraphs),
        date=DateInfo("2022-05-05", "day", "text"),
        agency="新华社",
        place=None,
        via=None,
        people=(),
        keywords=(),
        flags=(),
    )


def make_collection(items: list[tuple[str, str, tuple[str, ...]]]) -> Collection:
    articles = tuple(make_article(*item) for item in items)
    dispatches = tuple(
        Dispatch(
            id=f"d-{a.id}",
            title=a.headline or "",
            date=a.date,
            witnesses=(a.id,),
            paragraphs=a.paragraphs,
            variants=(),
            related=(),
            agency=a.agency,
            place=None,
            people=(),
            keywords=(),
        )
        for a in articles
    )
    return Collection((), (), (), articles, dispatches, ())


# Characters beyond U+FFFF (Extension B) and in U+E000-U+FFFF (a compatibility
# ideograph NFKC keeps) in one index: the order that breaks lunr.js if taken from lunr.py.
SMALL = make_collection(
    [
        ("a-1", "𠀀𠀁姓人物访问上海", ("𠀀𠀁先生今天访问上海，讨论疫情防控。", "﨎﨏字样也在这里，risk 人群要及时排查。")),
        ("a-2", "上海疫情防控", ("上海市今天召开疫情防控会议。14.7亿件快递。",)),
        ("a-3", "欧佩克会议", ("石油输出国组织（欧佩克）与非欧佩克产油国5日举行会议。", "日均增产40万桶。")),
        ("b-1", "快递业务量", ("五一假期全国投递快件14.7亿件，同比增长。", "疫情期间快递员坚守岗位。")),
        ("b-2", "Risk Management", ("Risk management in 2022 is hard; 风险管理很难。",)),
    ]
)
SMALL_QUERIES = [
    "上海", "疫情防控", "疫", "𠀀", "﨎", "14.7亿件", "risk", "欧佩克", "会议", "上海 疫情",
    '"疫情防控"', "日", "快递", "xyzzy", "欧佩克产油国增产", "𠀀𠀁先生",
]


def lunr_py_index(documents: tuple[search.SearchDocument, ...]) -> dict[str, Any]:
    """The same documents indexed by lunr.py: extractors return our tokens, no pipelines."""
    builder = lunr.builder.Builder()
    builder.ref("ref")
    for position, (field, boost) in enumerate(search.FIELDS):
        builder.field(field, boost=boost, extractor=lambda doc, p=position: index_tokens(doc["fields"][p]))
    for document in documents:
        builder.add({"ref": document.ref, "fields": document.field_texts()})
    serialized: dict[str, Any] = builder.build().serialize()
    return serialized


def canonical(serialized: dict[str, Any]) -> dict[str, Any]:
    """A lunr serialisation with its terms in UTF-16 order and each term's vector
    dimension (_index) renumbered to its place in that order, which changes no score."""
    inverted = sorted(serialized["invertedIndex"], key=lambda entry: search.utf16_key(entry[0]))
    renumber = {posting["_index"]: place for place, (_, posting) in enumerate(inverted)}
    fields = [field for field, _ in search.FIELDS]

    def vector(elements: list[Any]) -> list[Any]:
        pairs = sorted((renumber[index], weight) for index, weight in zip(elements[0::2], elements[1::2]))
        return [value for pair in pairs for value in pair]

    def vector_key(entry: list[Any]) -> tuple[int, int]:
        field, ref = entry[0].split("/")
        return fields.index(field), int(ref, 36)

    return {
        **serialized,
        "invertedIndex": [[term, {**posting, "_index": renumber[posting["_index"]]}] for term, posting in inverted],
        "fieldVectors": sorted(([key, vector(elements)] for key, elements in serialized["fieldVectors"]), key=vector_key),
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_written_index_equals_lunr_py_index(workers: int) -> None:
    """Every posting and every field-vector weight is lunr.py's, to the last bit."""
    documents = search.search_documents(SMALL)
    index = search.build_index(documents, workers)
    ours = search.lunr_serialization(index, index.terms)
    theirs = lunr_py_index(documents)
    # lunr.py orders terms by code point; lunr.js needs UTF-16 order.
    assert [term for term, _ in theirs["invertedIndex"]] != list(index.terms)
    assert ours == canonical(theirs)


@needs_node
@pytest.mark.parametrize("limit", [1, 7, 10**9])
def test_engine_expands_each_shard_into_the_lunr_serialization(limit: int, tmp_path: Path) -> None:
    """What engine.js hands to lunr.Index.load is search.lunr_serialization of the shard."""
    documents = search.search_documents(SMALL)
    write_pages(search.index_pages(documents, limit), tmp_path)
    index = search.build_index(documents)
    shards = search.shard_terms(index, limit)
    script = (
        "const fs = require('fs'), vm = require('vm');"
        "const [engineFile, site, count] = process.argv.slice(1);"
        "const { expand } = require(engineFile); const data = {};"
        "const context = vm.createContext({ JianbaoSearch: {"
        " manifest: (m) => { data.manifest = m; }, shard: (n, s) => { data[n] = s; } } });"
        "vm.runInContext(fs.readFileSync(site + '/search/index/manifest.js', 'utf8'), context);"
        "const out = [];"
        "for (let n = 0; n < Number(count); n++) {"
        " vm.runInContext(fs.readFileSync(site + '/search/index/shard-' + String(n).padStart(4, '0') + '.js', 'utf8'), context);"
        " out.push(expand(data[n], data.manifest.fields)); }"
        "process.stdout.write(JSON.stringify(out));"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "engine.js"), str(tmp_path), str(len(shards))],
        capture_output=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    expanded = json.loads(completed.stdout.decode("utf-8"))
    assert len(expanded) == len(shards)
    for serialized, terms in zip(expanded, shards):
        assert canonical(serialized) == search.lunr_serialization(index, terms)


def test_parallel_build_writes_the_same_bytes() -> None:
    documents = search.search_documents(SMALL)
    assert search.index_pages(documents, 7, workers=1) == search.index_pages(documents, 7, workers=3)


@pytest.mark.parametrize("score", [0.0625, 0.1875, 2.0005, 0.0004999, 0.012, 1.0, 10.0, 0.9996, 123.4565])
def test_weights_in_thousandths_are_round_to_three_places(score: float) -> None:
    """The written integer over 1000 is the number lunr.py's round(score, 3) gives."""
    text = search._thousandths("%.3f,%d,%.3f" % (score, 12, score))
    first, gap, second = (int(number) for number in text.split(","))
    assert first / 1000 == round(score, 3) == second / 1000 and gap == 12
    assert text == ",".join([str(first), "12", str(first)])


@needs_node
def test_lunr_js_rejects_lunr_py_term_order() -> None:
    """Why the writer sorts by UTF-16: lunr.py's own order does not load in lunr.js."""
    theirs = lunr_py_index(search.search_documents(SMALL))
    script = (
        "const lunr = require(process.argv[1]);"
        "try { lunr.Index.load(JSON.parse(require('fs').readFileSync(0, 'utf8'))); console.log('loaded'); }"
        "catch (error) { console.log(error.message); }"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "vendor" / "lunr-2.3.9" / "lunr.min.js")],
        input=json.dumps(theirs).encode("utf-8"),
        capture_output=True,
        timeout=60,
    )
    assert completed.stdout.decode().strip() == "Out of order word insertion"


@needs_node
@pytest.mark.parametrize("limit", [1, 7, 10**9])
def test_sharded_results_equal_one_lunr_py_index(limit: int, tmp_path: Path) -> None:
    """engine.js over shards of any size answers exactly as lunr.js over lunr.py's index."""
    documents = search.search_documents(SMALL)
    write_pages(search.index_pages(documents, limit), tmp_path)
    whole = lunr_py_index(documents)
    whole["invertedIndex"].sort(key=lambda entry: search.utf16_key(entry[0]))
    answers = run_node(tmp_path, SMALL_QUERIES, tmp_path, whole)
    index = search.build_index(documents)
    for answer in answers:
        reference = sorted(answer["whole"], key=lambda hit: (-hit[1], int(hit[0], 36)))
        if '"' not in answer["query"]:
            assert [ref for ref, _ in answer["hits"]] == [ref for ref, _ in reference], answer["query"]
            for (_, ours), (_, theirs) in zip(answer["hits"], reference):
                assert ours == pytest.approx(theirs, rel=1e-9), answer["query"]
        python = search.query_index(index, documents, answer["query"])
        assert [[hit.ref, pytest.approx(hit.score, rel=1e-9)] for hit in python] == answer["hits"], answer["query"]


def test_shards_respect_the_postings_limit() -> None:
    index = search.build_index(search.search_documents(SMALL))
    shards = search.shard_terms(index, 20)
    assert [term for shard in shards for term in shard] == list(index.terms)
    for shard in shards:
        assert len(shard) == 1 or sum(index.cost(term) for term in shard) <= 20


def test_terms_are_in_utf16_order() -> None:
    terms = search.build_index(search.search_documents(SMALL)).terms
    assert list(terms) == sorted(terms, key=lambda t: t.encode("utf-16-be"))
    assert any(ord(t[0]) > 0xFFFF for t in terms) and any(0xE000 <= ord(t[0]) <= 0xFFFF for t in terms)


def test_parse_query_reads_phrases_and_words() -> None:
    parsed = search.parse_query('上海 "疫情防控" risk 疫')
    assert [(c.term, c.kind) for c in parsed.clauses] == [
        ("上海", "bigram"), ("疫情", "bigram"), ("情防", "bigram"), ("防控", "bigram"),
        ("risk", "word"), ("疫", "prefix"),
    ]
    assert parsed.phrases == ("疫情防控",)
    assert parsed.droppable_runs == frozenset({0})


def test_unknown_bigram_is_dropped_only_outside_quotes() -> None:
    documents = search.search_documents(SMALL)
    index = search.build_index(documents)
    assert [h.dispatch for h in search.query_index(index, documents, "欧佩克产油国增产")] == ["d-a-3"]
    assert search.query_index(index, documents, '"欧佩克产油国增产"') == []


# ---------------------------------------------------------------- the seeds


@pytest.fixture(scope="module")
def seeds() -> Collection:
    return pipeline.gather(load_config(ROOT / "config.yaml"))


@pytest.fixture(scope="module")
def seed_documents(seeds: Collection) -> tuple[search.SearchDocument, ...]:
    return search.search_documents(seeds)


def dispatch_of(collection: Collection, witness: str) -> str:
    (dispatch,) = [d.id for d in collection.dispatches if witness in d.witnesses]
    return dispatch


def check_answer(collection: Collection, case: dict[str, Any], found: list[str]) -> None:
    if case.get("nothing"):
        assert found == [], case["query"]
        return
    expected = {dispatch_of(collection, witness) for witness in case["found"]}
    assert expected <= set(found), case["query"]
    if "first" in case:
        assert found[0] == dispatch_of(collection, case["first"]), case["query"]


def test_query_set_is_large_enough() -> None:
    assert len(QUERIES) >= 30
    assert sum(1 for case in QUERIES if case.get("nothing")) >= 3
    assert any(len(case["query"]) == 1 for case in QUERIES)


@pytest.mark.parametrize("case", QUERIES, ids=[case["query"] for case in QUERIES])
def test_query_in_python(case: dict[str, Any], seeds: Collection, seed_documents: tuple[search.SearchDocument, ...]) -> None:
    index = search.build_index(seed_documents)
    found = [hit.dispatch for hit in search.query_index(index, seed_documents, case["query"])]
    check_answer(seeds, case, found)


@needs_node
def test_query_set_in_node_equals_python(
    seeds: Collection, seed_documents: tuple[search.SearchDocument, ...], tmp_path: Path
) -> None:
    write_pages(search.index_pages(seed_documents), tmp_path)
    answers = run_node(tmp_path, [case["query"] for case in QUERIES], tmp_path)
    index = search.build_index(seed_documents)
    dispatch_by_ref = {d.ref: d.dispatch.id for d in seed_documents}
    for case, answer in zip(QUERIES, answers):
        python = search.query_index(index, seed_documents, case["query"])
        assert [[h.ref, pytest.approx(h.score, rel=1e-9)] for h in python] == answer["hits"], case["query"]
        check_answer(seeds, case, [dispatch_by_ref[ref] for ref, _ in answer["hits"]])


def test_one_document_per_dispatch_lists_its_witnesses(
    seeds: Collection, seed_documents: tuple[search.SearchDocument, ...]
) -> None:
    assert sorted(d.dispatch.id for d in seed_documents) == sorted(d.id for d in seeds.dispatches)
    for document in seed_documents:
        assert [w["id"] for w in document.record["witnesses"]] == list(document.dispatch.witnesses)


def test_search_pages_are_deterministic_scripts(seeds: Collection) -> None:
    config = load_config(ROOT / "config.yaml")
    first = search.search_pages(seeds, config, Theme(config))
    second = search.search_pages(seeds, config, Theme(config))
    assert first == second
    paths = [page.path for page in first]
    assert search.SEARCH_PAGE in paths and "search/index/manifest.js" in paths
    for page in first:
        if page.path.endswith(".js"):
            text = page.content.decode("utf-8")
            assert text.startswith(search.CALLBACK + ".") and text.endswith(");\n"), page.path
    html = dict((p.path, p.content) for p in first)[search.SEARCH_PAGE].decode("utf-8")
    assert 'name="q"' in html and "static/search/ui.js" in html


def test_search_page_without_dispatches_still_builds(tmp_path: Path) -> None:
    config = dataclasses.replace(Config(), root=tmp_path)
    pages = search.search_pages(make_collection([]), config, Theme(config))
    manifest = dict((p.path, p.content) for p in pages)["search/index/manifest.js"].decode("utf-8")
    assert '"documents":0' in manifest and '"shards":[]' in manifest
