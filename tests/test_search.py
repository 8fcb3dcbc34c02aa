"""Search: the index equals lunr's, the shards merge exactly, the query set passes."""

from __future__ import annotations

import bisect
import dataclasses
import json
import math
import pickle
import random
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
    // A fresh engine per query, when asked, keeps no answer of an earlier query.
    const searcher = request.fresh ? createEngine({ lunr, tokenizer, restrict: request.restrict, load: (file) => {
      context.JianbaoSearch = searcher.receiver;
      vm.runInContext(fs.readFileSync(path.join(site, file), "utf8"), context);
    }}) : engine;
    const hits = await searcher.searchAll(query);
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


def run_node(
    site: Path,
    queries: list[str],
    tmp_path: Path,
    whole: dict[str, Any] | None = None,
    *,
    fresh: bool = False,
    restrict: float | None = None,
) -> list[Any]:
    request = tmp_path / "request.json"
    request.write_text(
        json.dumps({"queries": queries, "whole": whole, "fresh": fresh, "restrict": restrict}, ensure_ascii=False),
        encoding="utf-8",
    )
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


def written_small_index(folder: Path, limit: int) -> tuple[tuple[search.SearchDocument, ...], search.SearchIndex]:
    """SMALL's search documents and index, the index written into ``folder`` in shards of ``limit`` postings."""
    documents = search.search_documents(SMALL)
    index = search.build_index(documents)
    write_pages(search.index_pages(documents, index, limit), folder)
    return documents, index


def refs_of(documents: tuple[search.SearchDocument, ...]) -> dict[str, str]:
    """Dispatch id -> its document's ref."""
    numbers = search.document_numbers(d.dispatch.id for d in documents)
    return {dispatch_id: search.doc_ref(number) for dispatch_id, number in numbers.items()}


def lunr_py_index(documents: tuple[search.SearchDocument, ...]) -> dict[str, Any]:
    """The same documents indexed by lunr.py: extractors return our tokens, no pipelines."""
    builder = lunr.builder.Builder()
    builder.ref("ref")
    for position, (field, boost) in enumerate(search.FIELDS):
        builder.field(field, boost=boost, extractor=lambda doc, p=position: index_tokens(doc["fields"][p]))
    refs = refs_of(documents)
    for document in documents:
        builder.add({"ref": refs[document.dispatch.id], "fields": document.field_texts()})
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
    documents, index = written_small_index(tmp_path, limit)
    shards = search.shard_terms(index, limit)
    script = (
        "const fs = require('fs'), vm = require('vm');"
        "const [engineFile, site] = process.argv.slice(1);"
        "const { expand, shardName } = require(engineFile); const data = {};"
        "const context = vm.createContext({ JianbaoSearch: {"
        " manifest: (m) => { data.manifest = m; }, shard: (n, s) => { data[n] = s; } } });"
        "vm.runInContext(fs.readFileSync(site + '/search/index/manifest.js', 'utf8'), context);"
        "const out = [];"
        "for (const first of data.manifest.shards) {"
        " const name = shardName(first);"
        " vm.runInContext(fs.readFileSync(site + '/search/index/' + name + '.js', 'utf8'), context);"
        " out.push(expand(data[name], data.manifest)); }"
        "process.stdout.write(JSON.stringify(out));"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "engine.js"), str(tmp_path)],
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
    assert search.index_pages(documents, search.build_index(documents, 1), 7) == search.index_pages(
        documents, search.build_index(documents, 3), 7
    )


# Scores next to a half thousandth, exact ties (odd sixteenths) among them, and others.
ROUNDING_SCORES = [0.0625, 0.1875, 2.0005, 0.0004999, 0.0005, 0.012, 1.0, 10.0, 0.9996, 123.4565, 7.3125, 0.5625]


@needs_node
def test_engine_weights_equal_lunr_py_weights() -> None:
    """engine.js computes each weight from the frequencies and lengths in the files: it
    must be the very double lunr.py's arithmetic gives, its rounding ties included."""
    rng = random.Random(5)
    cases = [
        [rng.uniform(0.01, 10.0), rng.randint(1, 60), rng.randint(0, 5000), rng.uniform(1.0, 3000.0), boost]
        for boost in (1, 10)
        for _ in range(5000)
    ]
    # idf * 2.2 / (norm + 1) with norm = 1.2 (length = average) is idf: these hit the ties.
    cases += [[score, 1, 100, 100.0, 1] for score in ROUNDING_SCORES]
    script = (
        "const { weight } = require(process.argv[1]);"
        "const K1 = 1.2, B = 0.75;"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map(([idf, tf, length, average, boost]) =>"
        " weight(idf, tf, K1 * (1 - B + B * (length / average)), boost))));"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "engine.js")],
        input=json.dumps(cases).encode("utf-8"),
        capture_output=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    expected = [search.field_weight(*case) for case in cases]
    assert json.loads(completed.stdout) == expected
    assert [search.field_weight(score, 1, 100, 100.0, 1) for score in (0.0625, 0.1875)] == [0.062, 0.188]


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
    documents, index = written_small_index(tmp_path, limit)
    whole = lunr_py_index(documents)
    whole["invertedIndex"].sort(key=lambda entry: search.utf16_key(entry[0]))
    answers = run_node(tmp_path, SMALL_QUERIES, tmp_path, whole)
    for answer in answers:
        reference = sorted(answer["whole"], key=lambda hit: (-hit[1], int(hit[0], 36)))
        if '"' not in answer["query"]:
            assert [ref for ref, _ in answer["hits"]] == [ref for ref, _ in reference], answer["query"]
            for (_, ours), (_, theirs) in zip(answer["hits"], reference):
                assert ours == pytest.approx(theirs, rel=1e-9), answer["query"]
        python = search.query_index(index, documents, answer["query"])
        assert [[hit.ref, pytest.approx(hit.score, rel=1e-9)] for hit in python] == answer["hits"], answer["query"]


# Words of a few hundred synthetic documents, drawn with frequencies falling as 1/rank,
# sharing characters so that their bigrams overlap (经济 in 数字经济, 发展 in 高质量发展).
WORDS = (
    "发展", "经济", "上海", "企业", "记者", "合作", "会议", "增长", "工作", "推进", "医疗", "公司",
    "合作社", "万吨", "亿元", "数字经济", "乡村振兴", "高质量发展", "了解到", "疫情", "防控", "农业",
    "项目", "建设", "2022", "risk", "社区", "服务", "振兴", "质量", "数字", "乡村", "疫苗", "接种",
)


def synthetic_collection(count: int, seed: int) -> Collection:
    rng = random.Random(seed)
    weights = [1 / rank for rank in range(1, len(WORDS) + 1)]

    def words(k: int) -> str:
        return "".join(word + (" " if word.isascii() else "") for word in rng.choices(WORDS, weights, k=k))

    return make_collection(
        [(f"z{n // 50}-{n % 50 + 1}", words(rng.randint(1, 3)), (words(rng.randint(10, 60)), words(rng.randint(0, 30))))
         for n in range(count)]
    )


def restricts(index: search.SearchIndex, query: str) -> bool:
    """Does engine.js answer some clause of the query over only the documents the clauses
    before it matched (engine.js, clauseAnswer, with no answer kept from before)? The
    clauses are taken fewest postings first; each narrows the documents."""
    parsed = search.parse_query(query)
    clauses = [c for c in parsed.clauses if not (c.run in parsed.droppable_runs and c.term not in index.entries)]
    costs = []
    for clause in clauses:
        terms = [t for t in index.terms if t.startswith(clause.term)] if clause.kind == "prefix" else [clause.term]
        terms = [t for t in terms if t in index.entries]
        documents = {ref for term in terms for field in index.postings(term) for ref, _ in field}
        costs.append((sum(index.counts[t] for t in terms), documents))
    costs.sort(key=lambda cost: cost[0])
    allowed: set[str] | None = None
    for cost, documents in costs:
        if allowed is not None and len(allowed) * ENGINE_RESTRICT <= cost:
            return True
        allowed = documents if allowed is None else allowed & documents
    return False


# engine.js's RESTRICT: a clause is answered over the documents matched so far when they
# are at most its postings divided by this.
ENGINE_RESTRICT = 2


@needs_node
@pytest.mark.parametrize("limit", [60, search.SHARD_POSTINGS])
def test_answers_over_the_documents_matched_so_far_equal_whole_answers(limit: int, tmp_path: Path) -> None:
    """engine.js answers a query's clauses fewest postings first, each over only the
    documents the ones before matched when they are few: at a scale where that happens
    for most queries, every answer equals lunr.js's over one lunr.py index and Python's
    query_index (same documents, order and scores)."""
    collection = synthetic_collection(300, 3)
    documents = search.search_documents(collection)
    index = search.build_index(documents)
    write_pages(search.index_pages(documents, index, limit), tmp_path)
    rng = random.Random(limit)
    queries = [
        *(rng.choice(WORDS) + rng.choice(["", " "]) + rng.choice(WORDS) for _ in range(40)),
        *(" ".join(rng.sample(WORDS, 3)) for _ in range(10)),
        "乡村振兴", "高质量发展", "数字经济", "合作社", "记者了解到", '"高质量发展"', "上海 企业", "疫", "发", "经济 疫",
        '"经济发展"', "2022 risk", "上海 xyzzy", "振兴 发展 经济",
    ]
    restricted = [query for query in queries if restricts(index, query)]
    assert len(restricted) > len(queries) // 2
    answers = run_node(tmp_path, queries, tmp_path, fresh=True)
    # Bit for bit what an engine that never restricts answers (json.dumps: no Infinity).
    assert answers == run_node(tmp_path, queries, tmp_path, fresh=True, restrict=1e308)
    whole = lunr_py_index(documents)
    whole["invertedIndex"].sort(key=lambda entry: search.utf16_key(entry[0]))
    for answer, (_, whole_answer) in zip(answers, zip(queries, run_node(tmp_path, queries, tmp_path, whole))):
        python = search.query_index(index, documents, answer["query"])
        assert [[hit.ref, pytest.approx(hit.score, rel=1e-9)] for hit in python] == answer["hits"], answer["query"]
        if '"' not in answer["query"]:
            # One lunr index sums a document's terms in another order: scores equal to
            # the last bits, so documents that tie may come in another order.
            theirs = dict(map(tuple, whole_answer["whole"]))
            assert {ref for ref, _ in answer["hits"]} == set(theirs), answer["query"]
            for ref, score in answer["hits"]:
                assert score == pytest.approx(theirs[ref], rel=1e-9), answer["query"]


def edit_dispatches(collection: Collection, texts: dict[str, tuple[str, ...]]) -> Collection:
    """The collection with some dispatches' consensus texts replaced."""
    dispatches = tuple(
        dataclasses.replace(d, paragraphs=texts[d.id]) if d.id in texts else d for d in collection.dispatches
    )
    return dataclasses.replace(collection, dispatches=dispatches)


# An edit that adds terms no document had (新词, Ωmega), removes every posting of others
# (hard, 2022: b-2 was their only document; its title keeps risk) and changes field lengths.
EDITS = {
    "d-a-2": ("上海市今天召开疫情防控会议。新词出现，Ωmega 14.7亿件快递。",),
    "d-b-2": ("风险管理很难。",),
}


def site_after(files: dict[str, bytes], made: search.SearchFiles) -> dict[str, bytes]:
    """The search files on disk after a build that made ``made``: the files it made, and
    the others as they were (the pipeline keeps them), those without a key removed."""
    made_files = {page.path: page.content for page in made.pages}
    return {path: made_files[path] if path in made_files else files[path] for path in made.keys}


def full_site(collection: Collection, config: Config, theme: Theme) -> tuple[dict[str, bytes], search.SearchFiles, search.SearchMemo]:
    made, memo = search.search_pages(collection, config, theme)
    assert set(made.keys) == {page.path for page in made.pages}
    return {page.path: page.content for page in made.pages}, made, memo


def rebuilt(
    collection: Collection, config: Config, theme: Theme, files: dict[str, bytes], keys: dict[str, str], memo: search.SearchMemo
) -> tuple[dict[str, bytes], search.SearchFiles, search.SearchMemo]:
    """Build from the memo with every file on disk unchanged, as the pipeline does; check
    that exactly the files whose bytes changed were made."""
    made, memo = search.search_pages(collection, config, theme, memo, unchanged=keys)
    after = site_after(files, made)
    assert {page.path for page in made.pages} == {path for path in after if files.get(path) != after[path]}
    return after, made, memo


@pytest.mark.parametrize("frequent, block", [(search.FREQUENT, search.BLOCK), (1, 1), (2, 3)])
def test_search_build_with_the_previous_memo_writes_the_same_bytes(
    frequent: int, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit rebuilt from the previous memo gives the bytes and keys of a build without
    one, makes only the files whose bytes changed, and reuses what the edit did not touch
    (whole lists, and blocks of frequent terms)."""
    # Five documents: let two of them change, and make every term frequent enough for blocks.
    monkeypatch.setattr(search, "UPDATE_SHARE", 1.0)
    monkeypatch.setattr(search, "FREQUENT", frequent)
    monkeypatch.setattr(search, "BLOCK", block)
    config = dataclasses.replace(Config(), root=tmp_path)
    theme = Theme(config)
    files, made, memo = full_site(SMALL, config, theme)
    edited = edit_dispatches(SMALL, EDITS)
    after, update, updated = rebuilt(edited, config, theme, files, dict(made.keys), memo)
    full, fresh_made, fresh = full_site(edited, config, theme)
    assert after == full and update.keys == fresh_made.keys
    assert updated == fresh
    assert "新词" in updated.index.entries and "hard" not in updated.index.entries and "hard" in memo.index.entries
    # Terms of untouched documents only keep their very entry.
    assert updated.index.entries["欧佩"] is memo.index.entries["欧佩"]
    # Nothing changed: the same index, nothing made.
    again, same = search.search_pages(edited, config, theme, updated, unchanged=update.keys)
    assert same.index is updated.index and again.pages == () and again.keys == update.keys
    # A file missing on disk (not in ``unchanged``) is made again.
    missing = next(path for path in update.keys if path.startswith(search.DOCS_FOLDER))
    partial = {path: key for path, key in update.keys.items() if path != missing}
    assert [page.path for page in search.search_pages(edited, config, theme, updated, unchanged=partial)[0].pages] == [missing]
    # Back again, through a pickled memo; without ``unchanged`` every file is made.
    restored = pickle.loads(pickle.dumps(updated))
    assert search.search_pages(SMALL, config, theme, restored) == search.search_pages(SMALL, config, theme)


def add_dispatches(collection: Collection, items: list[tuple[str, str, tuple[str, ...]]]) -> Collection:
    more = make_collection(items)
    return dataclasses.replace(
        collection, articles=collection.articles + more.articles, dispatches=collection.dispatches + more.dispatches
    )


def remove_dispatches(collection: Collection, ids: set[str]) -> Collection:
    return dataclasses.replace(collection, dispatches=tuple(d for d in collection.dispatches if d.id not in ids))


@pytest.mark.parametrize("frequent, block", [(search.FREQUENT, search.BLOCK), (3, 2), (5, 7)])
def test_a_series_of_random_edits_keeps_the_memo_exact(
    frequent: int, block: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Edit after edit (texts changed, dispatches added and removed), each built from the
    memo of the one before with the files on disk, equals a full build, and makes only
    the files whose bytes changed. Small shards, so that cuts move."""
    monkeypatch.setattr(search, "FREQUENT", frequent)
    monkeypatch.setattr(search, "BLOCK", block)
    monkeypatch.setattr(search, "UPDATE_SHARE", 0.3)
    monkeypatch.setattr(search, "SHARD_POSTINGS", 40)
    monkeypatch.setattr(search, "SHARD_MIN", 10)
    rng = random.Random(frequent * 100 + block)
    alphabet = "上海疫情防控会议经济发展"

    def item(n: int) -> tuple[str, str, tuple[str, ...]]:
        return (f"s-{n}", "".join(rng.choices(alphabet, k=4)), ("".join(rng.choices(alphabet + "，ab ", k=40)),))

    collection = make_collection([item(n) for n in range(1, 41)])
    config = dataclasses.replace(Config(), root=tmp_path)
    theme = Theme(config)
    files, made, memo = full_site(collection, config, theme)
    keys = dict(made.keys)
    for round_number in range(16):
        kind = round_number % 3
        if kind == 0:
            edits = {
                d.id: ("".join(rng.choices(alphabet + "，ab ", k=rng.randint(0, 60))),)
                for d in rng.sample(collection.dispatches, rng.randint(1, 4))
            }
            collection = edit_dispatches(collection, edits)
        elif kind == 1:
            collection = add_dispatches(collection, [item(100 + round_number * 10 + k) for k in range(rng.randint(1, 3))])
        else:
            collection = remove_dispatches(collection, {d.id for d in rng.sample(collection.dispatches, rng.randint(1, 2))})
        files, made, memo = rebuilt(collection, config, theme, files, keys, memo)
        keys = dict(made.keys)
        full, full_made, fresh = full_site(collection, config, theme)
        assert files == full and keys == full_made.keys and memo == fresh, round_number


def test_many_changes_read_everything_again(tmp_path: Path) -> None:
    config = dataclasses.replace(Config(), root=tmp_path)
    theme = Theme(config)
    _, memo = search.search_pages(SMALL, config, theme)
    fewer = dataclasses.replace(SMALL, dispatches=SMALL.dispatches[1:])
    assert search.search_pages(fewer, config, theme, memo) == search.search_pages(fewer, config, theme)


def test_facets_updated_for_a_few_documents_equal_facets_made_from_nothing() -> None:
    """A facet table updated for the documents that changed (moved, added, removed, given
    another agency or year) is the one made from every document; a value that comes or
    goes asks for a new table."""
    collection = make_collection([(f"{source}-{n}", f"题{n}", (f"正文{n}。",)) for source in "pq" for n in range(1, 7)])

    def table_of(documents: tuple[search.SearchDocument, ...]) -> tuple[search.FacetTable, dict[int, search.SearchDocument]]:
        numbers = search.document_numbers(d.dispatch.id for d in documents)
        return search.facet_table(documents, numbers), {numbers[d.dispatch.id]: d for d in documents}

    def updated(before: Collection, after: Collection) -> tuple[search.FacetTable | None, search.FacetTable]:
        old_table, old = table_of(search.search_documents(before))
        new_table, new = table_of(search.search_documents(after, {d.dispatch.id: d for d in old.values()}))
        changes = {n: (old.get(n), new.get(n)) for n in old.keys() | new.keys() if old.get(n) is not new.get(n)}
        return search.updated_facets(old_table, changes, max(new, default=-1) + 1), new_table

    def with_agency(of: Collection, dispatch_id: str, agency: str | None) -> Collection:
        return dataclasses.replace(
            of, dispatches=tuple(dataclasses.replace(d, agency=agency) if d.id == dispatch_id else d for d in of.dispatches)
        )

    other_agency = with_agency(collection, "d-q-2", "中新社")
    grown = add_dispatches(other_agency, [("q-7", "题7", ("正文7。",))])
    for before, after in [
        (other_agency, grown),  # a document more, of values every facet has
        (grown, remove_dispatches(grown, {"d-p-3"})),  # one less (a hole, or the range shrinks)
        (other_agency, with_agency(other_agency, "d-p-1", "中新社")),  # another agency that others have
        (other_agency, edit_dispatches(other_agency, {"d-p-2": ("改过的正文。",)})),  # text only
    ]:
        table, fresh = updated(before, after)
        assert table == fresh
    # The only document of an agency loses it, or a document brings an agency nobody had.
    assert updated(other_agency, with_agency(other_agency, "d-q-2", None))[0] is None
    assert updated(collection, with_agency(collection, "d-p-4", "路透社"))[0] is None
    assert search.facets_file_script(table_of(search.search_documents(grown))[0]) == search.facets_script(
        search.search_documents(grown), search.document_numbers(d.id for d in grown.dispatches)
    )


def test_document_numbers_move_few_documents_when_one_is_added() -> None:
    ids = [f"d-{n}" for n in range(2000)]
    numbers = search.document_numbers(ids)
    assert sorted(set(numbers.values())) == sorted(numbers.values()) and max(numbers.values()) < 2 * 4096
    moved = []
    for k in range(20):
        added = search.document_numbers([*ids, f"new-{k}"])
        moved.append(sum(1 for i in ids if added[i] != numbers[i]))
    assert sum(moved) <= 2 * len(moved), moved
    assert search.document_numbers(reversed(ids)) == numbers


def test_shard_cuts_found_again_equal_cuts_from_nothing() -> None:
    """shard_starts from the old starts and the dirty positions equals cutting from nothing."""
    rng = random.Random(3)
    terms = tuple(sorted({"".join(rng.choices("上海疫情防控会议经济发展ab", k=2)) for _ in range(400)}, key=search.utf16_key))
    counts = {term: rng.randint(1, 30) for term in terms}

    def index_of(counts: dict[str, int]) -> search.SearchIndex:
        return search.SearchIndex(0, terms, {}, counts, ((), ()), (0.0, 0.0))

    old = search.shard_starts(index_of(counts), 60)
    for _ in range(50):
        changed = rng.sample(range(len(terms)), rng.randint(1, 5))
        counts = {**counts, **{terms[at]: rng.randint(1, 80) for at in changed}}
        new = search.shard_starts(index_of(counts), 60, previous=old, dirty=sorted(changed))
        assert new == search.shard_starts(index_of(counts), 60)
        old = new


def test_document_files_are_the_records_with_sorted_keys() -> None:
    for number, document in enumerate(search.search_documents(SMALL)):
        assert search.doc_script(document, number) == search._script("doc", search.doc_ref(number), document.record)


@needs_node
def test_engine_idf_is_python_idf_to_one_unit_in_the_last_place() -> None:
    """engine.js computes the idf (it is not in the shards) with Math.log, which may be
    one unit in the last place from Python's math.log (about 6% of these cases in node
    20). A weight is that times a factor, rounded to three places: it differs only when
    it lies within about 1e-16 of a half thousandth (the query tests compare results)."""
    cases = [[count, documents] for documents in (*range(1, 120), 7736, 10000, 54321) for count in range(1, min(documents, 3000) + 1)]
    script = (
        "const { idf } = require(process.argv[1]);"
        "const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "process.stdout.write(JSON.stringify(cases.map(([count, documents]) => idf(count, documents))));"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "engine.js")], input=json.dumps(cases).encode("utf-8"), capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    for case, theirs in zip(cases, json.loads(completed.stdout)):
        ours = search.inverse_document_frequency(*case)
        assert abs(theirs - ours) <= math.ulp(ours), case


@needs_node
def test_engine_names_shards_as_python_does() -> None:
    terms = ["上海", "a", "𠀀𠀁", "﨎", "x" * 40, "上" * 12, "é" * 20, "𠀀" * 9]
    script = (
        "const { shardName } = require(process.argv[1]);"
        "process.stdout.write(JSON.stringify(JSON.parse(require('fs').readFileSync(0, 'utf8')).map(shardName)));"
    )
    completed = subprocess.run(
        ["node", "-e", script, str(STATIC / "engine.js")], input=json.dumps(terms).encode("utf-8"), capture_output=True, timeout=60
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    assert json.loads(completed.stdout) == [search.shard_name(term) for term in terms]


def test_preload_takes_the_most_frequent_terms_that_fit_in_its_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    index = search.build_index(search.search_documents(synthetic_collection(300, 3)))
    starts = search.shard_starts(index, 60)
    ends = [*starts[1:], len(index.terms)]
    alone = sorted(
        (-index.cost(index.terms[start]), number)
        for number, (start, end) in enumerate(zip(starts, ends))
        if end == start + 1 and index.cost(index.terms[start]) > 60
    )
    sizes = [len(search.shard_script(index, (index.terms[starts[number]],))) for _, number in alone]
    assert len(alone) > 5
    monkeypatch.setattr(search, "PRELOAD_BYTES", sum(sizes[:5]))
    assert search.preload_shards(index, starts, 60) == [number for _, number in alone[:5]]
    monkeypatch.setattr(search, "PRELOAD_BYTES", sum(sizes[:5]) - 1)
    assert search.preload_shards(index, starts, 60) == [number for _, number in alone[:4]]


# Node, with engine(loaded) making a fresh engine over a site that records the files it
# loads in the array loaded; the body (the inside of an async function of queries)
# returns what is printed.
ENGINES = """
const fs = require("fs"), vm = require("vm"), path = require("path");
const [staticDir, site, queryList] = process.argv.slice(1);
const lunr = require(path.join(staticDir, "vendor/lunr-2.3.9/lunr.min.js"));
const tokenizer = require(path.join(staticDir, "tokenizer.js"));
const { createEngine } = require(path.join(staticDir, "engine.js"));
function engine(loaded) {
  const context = vm.createContext({});
  const made = createEngine({ lunr, tokenizer, load: (file) => {
    loaded.push(file);
    context.JianbaoSearch = made.receiver;
    vm.runInContext(fs.readFileSync(path.join(site, file), "utf8"), context);
  }});
  return made;
}
(async (queries) => {BODY})(JSON.parse(queryList))
  .then((out) => process.stdout.write(JSON.stringify(out)))
  .catch((error) => { console.error(error); process.exit(1); });
"""


def run_engines(body: str, site: Path, queries: list[str]) -> Any:
    completed = subprocess.run(
        ["node", "-e", ENGINES.replace("BODY", body), str(STATIC), str(site), json.dumps(queries, ensure_ascii=False)],
        capture_output=True,
        timeout=60,
    )
    assert completed.returncode == 0, completed.stderr.decode("utf-8", "replace")
    return json.loads(completed.stdout)


@needs_node
def test_preloaded_shards_answer_as_loaded_ones(tmp_path: Path) -> None:
    """The page warms the preload shards in idle time (engine.warm); queries answered from
    what warming kept equal the answers of an engine that never warmed."""
    documents, index = written_small_index(tmp_path, 1)
    starts = search.shard_starts(index, 1)
    preload = search.preload_shards(index, starts, 1)
    assert preload
    costs = [index.cost(index.terms[starts[n]]) for n in preload]
    assert costs == sorted(costs, reverse=True) and min(costs) > 1
    rounds, *answers = run_engines(
        """
  const warmed = engine([]), plain = engine([]);
  let rounds = 0;
  while (await warmed.warm()) rounds++;
  const out = [rounds];
  for (const query of queries) {
    const answers = [await warmed.searchAll(query), await plain.searchAll(query)];
    out.push(answers.map((hits) => hits.map((h) => [h.ref, h.score])));
  }
  return out;
""",
        tmp_path,
        SMALL_QUERIES,
    )
    assert rounds == len(preload) - 1
    for query, (warmed, plain) in zip(SMALL_QUERIES, answers):
        assert warmed == plain, query


@needs_node
def test_prefetch_loads_the_shards_of_a_query_and_changes_no_answer(tmp_path: Path) -> None:
    """engine.prefetch (called as the reader types) loads the shard of each word and
    bigram of the query, none for a single character's range, and answers nothing: a
    query answered after it equals one answered without it."""
    _, index = written_small_index(tmp_path, 1)
    firsts = [index.terms[start] for start in search.shard_starts(index, 1)]
    keys = [search.utf16_key(term) for term in firsts]
    answers = run_engines(
        """
  const out = [];
  for (const query of queries) {
    const loaded = [];
    const fetched = engine(loaded);
    await fetched.prefetch(query);
    const files = loaded.slice().sort();
    const answers = [await fetched.searchAll(query), await engine([]).searchAll(query)];
    out.push([files, answers.map((hits) => hits.map((h) => [h.ref, h.score]))]);
  }
  return out;
""",
        tmp_path,
        SMALL_QUERIES,
    )
    for query, (files, (after, without)) in zip(SMALL_QUERIES, answers):
        clauses = [c for c in search.parse_query(query).clauses if c.kind != "prefix"]
        shards = {
            search.shard_file(firsts[max(0, bisect.bisect_right(keys, search.utf16_key(c.term)) - 1)]) for c in clauses
        }
        expected = sorted({f"{search.INDEX_FOLDER}/manifest.js", *shards}) if clauses else []
        assert files == expected, query
        assert after == without, query
    assert search.parse_query("疫").clauses[0].kind == "prefix"


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
    index = search.build_index(seed_documents)
    write_pages(search.index_pages(seed_documents, index), tmp_path)
    answers = run_node(tmp_path, [case["query"] for case in QUERIES], tmp_path)
    dispatch_by_ref = {ref: dispatch_id for dispatch_id, ref in refs_of(seed_documents).items()}
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
    first = search.search_pages(seeds, config, Theme(config))[0].pages
    second = search.search_pages(seeds, config, Theme(config))[0].pages
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
    made, _ = search.search_pages(make_collection([]), config, Theme(config))
    manifest = dict((p.path, p.content) for p in made.pages)["search/index/manifest.js"].decode("utf-8")
    assert '"documents":0' in manifest and '"shards":[]' in manifest
