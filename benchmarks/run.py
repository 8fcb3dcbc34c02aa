"""Time every stage of a Jianbao build on a synthetic collection, and measure its memory.

    python benchmarks/run.py --articles 10000 [--seed 1] [--profile] [--append]

1. Generates (or reuses) benchmarks/work/<articles>-seed<seed>/content with synth.py.
2. In a child process, runs the stages one after another on one core, each timed on
   its own: ingest, clean, split, describe, collate, render, search, manifest, write.
   It reports the peak RSS of that process after each stage, and how well the split
   and collate stages recovered the articles and reprint groups the manifest lists.
3. Runs the real commands as the user would, each in a child process:
   ``python -m generator check`` (every stage up to the catalog, on every core),
   ``python -m generator build --clean`` (cold) and ``python -m generator build`` (again,
   nothing changed) and ``build`` after one source changed. Each is timed from outside,
   with the peak of the summed PSS of the whole process tree (sampled every 20 ms;
   PSS counts pages that forked workers share with their parent once, where summed
   RSS would count them in every process) and the largest single process
   (``ru_maxrss`` from wait4).

Prints a Markdown table; ``--append`` adds it, dated, to benchmarks/README.md.
``--profile`` runs each stage under cProfile and writes the profiles next to the
collection (profile-<stage>.txt), printing the five costliest functions of each.
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import datetime
import hashlib
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
WORK = BENCHMARKS / "work"
README = BENCHMARKS / "README.md"
SYNTH = BENCHMARKS / "synth.py"

STAGES = ("ingest", "clean", "split", "describe", "collate", "render", "search", "manifest", "write")


# --------------------------------------------------------------------------------------
# The collection.
# --------------------------------------------------------------------------------------


def ensure_collection(articles: int, seed: int) -> tuple[Path, Path, float | None]:
    """The content folder and manifest for these arguments; generated unless already there.

    A stamp holds the hash of synth.py, so a changed generator never reuses old files.
    Returns the seconds generation took, or None when the files were reused.
    """
    folder = WORK / f"{articles}-seed{seed}"
    content, manifest, stamp = folder / "content", folder / "manifest.json", folder / "synth.sha256"
    wanted = hashlib.sha256(SYNTH.read_bytes()).hexdigest()
    if manifest.is_file() and stamp.is_file() and stamp.read_text().strip() == wanted:
        return content, manifest, None
    if folder.exists():
        shutil.rmtree(folder)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, str(SYNTH), "--articles", str(articles), "--seed", str(seed),
         "--out", str(content), "--manifest", str(manifest)],
        check=True,
    )
    stamp.write_text(wanted + "\n")
    return content, manifest, time.perf_counter() - started


# --------------------------------------------------------------------------------------
# The stages, one by one, in a child process (``--stage-child``).
# --------------------------------------------------------------------------------------


def _rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU time of this process and of the worker processes it has reaped (a stage's pool)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


class StageTimer:
    """Times named stages, records the peak RSS after each, and profiles them on request."""

    def __init__(self, profile_dir: Path | None) -> None:
        self.profile_dir = profile_dir
        self.rows: list[dict[str, Any]] = []

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        profiler = cProfile.Profile() if self.profile_dir is not None else None
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        if profiler is not None:
            profiler.enable()
        yield
        if profiler is not None:
            profiler.disable()
        row: dict[str, Any] = {
            "stage": stage,
            "seconds": time.perf_counter() - started,
            "cpu_seconds": _cpu_seconds() - cpu_started,
            "peak_rss_mb": _rss_mb(),
        }
        if profiler is not None and self.profile_dir is not None:
            row["top"] = _write_profile(profiler, self.profile_dir / f"profile-{stage}.txt")
        self.rows.append(row)


def _write_profile(profiler: cProfile.Profile, path: Path) -> list[str]:
    """Write the profile sorted both ways; return the five functions with the most own time."""
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(30)
    path.write_text(out.getvalue(), encoding="utf-8")
    top: list[str] = []
    entries = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)  # type: ignore[attr-defined]
    for (file, line, name), (_, calls, tottime, cumtime, _) in entries[:5]:
        where = f"{Path(file).name}:{line}" if line else file
        top.append(f"{tottime:7.2f} s own, {cumtime:7.2f} s cum, {calls:>9} calls  {name} ({where})")
    return top


def _recovery(collection: Any, manifest: dict[str, Any]) -> dict[str, Any]:
    """How many articles split found, and how many reprint pairs collate put together.

    A found article is matched to the manifest's article of the same source whose
    headline is among its heading lines (headline, subheadline or kicker, whitespace
    ignored: a kicker above a headline may fairly be read either way), so an extra or
    a missing article does not shift every id after it.
    """

    def key(text: str | None) -> str:
        return "".join((text or "").split())

    truth_by_key: dict[tuple[str, str], str] = {}
    expected = 0
    for source in manifest["sources"]:
        source_id = source["file"].rsplit(".", 1)[0]
        for article in source["articles"]:
            expected += 1
            truth_by_key.setdefault((source_id, key(article["headline"])), article["id"])
    truth_of: dict[str, str] = {}
    taken: set[str] = set()
    for article in collection.articles:
        for heading in (article.headline, article.subheadline, article.kicker):
            truth = truth_by_key.get((article.source_id, key(heading)))
            if heading and truth is not None and truth not in taken:
                truth_of[article.id] = truth
                taken.add(truth)
                break
    true_pairs = {
        (a, b) for witnesses in manifest["reprints"].values() for a in witnesses for b in witnesses if a < b
    }
    found_pairs: set[tuple[str, str]] = set()
    for dispatch in collection.dispatches:
        mapped = sorted(truth_of[w] for w in dispatch.witnesses if w in truth_of)
        found_pairs.update((a, b) for a in mapped for b in mapped if a < b)
    hits = len(true_pairs & found_pairs)
    return {
        "articles_expected": expected,
        "articles_found": len(collection.articles),
        "articles_matched": len(truth_of),
        "dispatches": len(collection.dispatches),
        "reprint_pairs": len(true_pairs),
        "pair_recall": hits / len(true_pairs) if true_pairs else 1.0,
        "pair_precision": hits / len(found_pairs) if found_pairs else 1.0,
    }


def stage_child(content: Path, output: Path, manifest_path: Path, profile_dir: Path | None) -> dict[str, Any]:
    """Run the stages in order on one core, as pipeline.gather/render_site/build compose them."""
    sys.path.insert(0, str(ROOT))
    from generator import clean, collate, describe, ingest, manifest, output as output_stage, parallel, render, search, split
    from generator.config import Config, load_config
    from generator.models import Article, Collection, Problem
    from generator.theme import Theme

    base = load_config(ROOT / "config.yaml") if (ROOT / "config.yaml").is_file() else Config(root=ROOT)
    config = dataclasses.replace(base, content_dir=str(content), output_dir=str(output))
    timer = StageTimer(profile_dir)
    with timer("ingest"):
        sources, skipped, problems = ingest.ingest(config.content_path)
    with timer("clean"):
        texts = [clean.clean(source) for source in sources]
    with timer("split"):
        splits = [split.split(text) for text in texts]
    with timer("describe"):
        described = [describe.describe(articles, text, config) for (articles, _), text in zip(splits, texts)]
    # Issue 2's figure: the same stages as the pipeline runs them, on both cores.
    with timer("ingest + clean/split/describe, both cores"):
        parallel.read_sources(ingest.ingest(config.content_path)[0], config)
    articles: tuple[Article, ...] = tuple(article for group in described for article in group)
    all_problems: list[Problem] = list(problems) + [p for _, found in splits for p in found]
    with timer("collate"):
        collated, dispatches = collate.collate(articles, config)
    collection = Collection(
        sources=sources, skipped=skipped, texts=tuple(texts), articles=collated,
        dispatches=dispatches, problems=tuple(all_problems),
    )
    with timer("render"):
        theme = Theme(config)
        pages = render.render_site(collection, config).pages
    with timer("search"):
        pages = pages + search.search_pages(collection, config, theme)[0].pages
    with timer("manifest"):
        pages = tuple(sorted(pages + manifest.manifest_pages(pages, collection, config), key=lambda p: p.path))
    with timer("write"):
        output_stage.write_site(pages, config.output_path, record=None)
    manifest_data = json.loads(manifest_path.read_text(encoding="utf-8"))
    return {
        "stages": timer.rows,
        "sources": len(sources),
        "skipped": len(skipped),
        "files": len(pages),
        "output_mb": sum(len(page.content) for page in pages) / 1e6,
        "recovery": _recovery(collection, manifest_data),
    }


# --------------------------------------------------------------------------------------
# Whole commands, measured from outside.
# --------------------------------------------------------------------------------------


def _memory_kb(pid: int) -> int:
    """The proportional set size of a process: pages shared with forked workers count once overall."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii", errors="replace") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _tree_memory_kb(pid: int) -> int:
    """The summed memory (PSS) of a process and all its descendants (0 once it is gone)."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            total += _memory_kb(current)
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as children:
                    pending.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total


@dataclasses.dataclass(frozen=True)
class Measured:
    label: str
    seconds: float
    cpu_seconds: float  # user + system time of the command and every process it waited for
    tree_peak_mb: float  # the summed PSS of the process tree at its highest sample
    largest_mb: float  # ru_maxrss of the largest single process (wait4)
    returncode: int
    tail: str  # the last line the command printed


def measure(label: str, command: list[str]) -> Measured:
    """Run a command, timing it and sampling its process tree's memory every 20 ms."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_memory_kb(process.pid))
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert process.stdout is not None
    lines = process.stdout.read().splitlines()
    # wait4 gives this child's own rusage: ru_maxrss is the largest of it and its reaped children.
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    tail = next((line for line in reversed(lines) if line.strip() and not line.startswith("open ")), "")
    cpu = usage.ru_utime + usage.ru_stime
    return Measured(label, seconds, cpu, peak / 1024, usage.ru_maxrss / 1024, process.returncode, tail)


def _measure_one_edit(content: Path, manifest: Path, site: list[str]) -> Measured:
    """Build after one source gained a paragraph (the incremental case), then put it back."""
    sources = json.loads(manifest.read_text(encoding="utf-8"))["sources"]
    chosen = next(s for s in sources if s["encoding"] == "utf-8" and not s["crlf"])
    path = content / chosen["file"]
    original = path.read_bytes()
    try:
        path.write_bytes(original + "\n本报讯 这一段是为测量增量构建而加的。\n".encode("utf-8"))
        print("python -m generator build (one source edited) ...", file=sys.stderr)
        return measure("build (one source edited)", [sys.executable, "-m", "generator", "build", *site, "--quiet"])
    finally:
        path.write_bytes(original)


# --------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------


def machine() -> str:
    memory = ""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            kb = int(meminfo.readline().split()[1])
        memory = f", {kb / 1024 / 1024:.1f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores{memory}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _commit() -> str:
    result = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "generator"], cwd=ROOT, capture_output=True, text=True)
    return result.stdout.strip() + (" + uncommitted changes in generator/" if dirty.stdout.strip() else "")


def report(
    articles: int, seed: int, generated: float | None, load: tuple[float, float, float],
    child: dict[str, Any], commands: list[Measured],
) -> str:
    today = datetime.date.today().isoformat()
    lines = [
        f"### {articles:,} articles (seed {seed}), {today}",
        "",
        f"Commit {_commit()}; {machine()}. "
        f"{child['sources']} sources, {child['skipped']} skipped; {child['files']} output files, {child['output_mb']:.1f} MB."
        + (f" Generating the collection took {generated:.1f} s." if generated is not None else "")
        + f" Load average when the run began: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}"
        + (
            " (above the core count: other jobs shared the machine, wall-clock seconds are inflated;"
            " CPU seconds are the steadier figure)."
            if load[0] > (os.cpu_count() or 1) else "."
        ),
        "",
        "| stage (one core, in order) | seconds | CPU seconds | peak RSS so far (MB) |",
        "| --- | ---: | ---: | ---: |",
    ]
    total = cpu_total = 0.0
    both_cores = [row for row in child["stages"] if row["stage"].endswith("both cores")]
    for row in child["stages"]:
        if row in both_cores:
            continue
        total += row["seconds"]
        cpu_total += row["cpu_seconds"]
        lines.append(f"| {row['stage']} | {row['seconds']:.2f} | {row['cpu_seconds']:.2f} | {row['peak_rss_mb']:.0f} |")
    lines.append(f"| **sum** | **{total:.2f}** | **{cpu_total:.2f}** | |")
    # The same per-source stages again as the pipeline runs them (issue 2's target), not in the sum.
    lines += [f"| {row['stage']} (again, not in the sum) | {row['seconds']:.2f} | {row['cpu_seconds']:.2f} | {row['peak_rss_mb']:.0f} |" for row in both_cores]
    lines += [] if not commands else [
        "",
        "| command | seconds | CPU seconds | peak PSS, whole process tree (MB) | largest process RSS (MB) | exit |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in commands:
        lines.append(
            f"| `{m.label}` | {m.seconds:.2f} | {m.cpu_seconds:.2f} | {m.tree_peak_mb:.0f} | {m.largest_mb:.0f} | {m.returncode} |"
        )
    r = child["recovery"]
    lines += [
        "",
        f"Split: {r['articles_found']} articles found for {r['articles_expected']} in the manifest, "
        f"{r['articles_matched']} matched by source and headline. "
        f"Collate: {r['dispatches']} dispatches; of {r['reprint_pairs']} reprint pairs in the manifest, "
        f"recall {r['pair_recall']:.3f}, precision {r['pair_precision']:.3f} (over matched articles).",
        "",
    ]
    for m in commands:
        if m.tail:
            lines.append(f"`{m.label}` said: {m.tail}")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark the Jianbao stages on a synthetic collection.")
    parser.add_argument("--articles", type=int, default=10000, help="articles in the synthetic collection (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for synth.py (default 1)")
    parser.add_argument("--profile", action="store_true", help="profile each stage with cProfile")
    parser.add_argument("--append", action="store_true", help="append the results to benchmarks/README.md")
    parser.add_argument("--stages-only", action="store_true", help="skip the whole-command measurements")
    # Internal: the child process that runs the stages.
    parser.add_argument("--stage-child", nargs=3, metavar=("CONTENT", "OUTPUT", "MANIFEST"), help=argparse.SUPPRESS)
    parser.add_argument("--profile-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stage_child:
        content, output, manifest = (Path(p) for p in args.stage_child)
        print(json.dumps(stage_child(content, output, manifest, args.profile_dir)))
        return 0

    content, manifest, generated = ensure_collection(args.articles, args.seed)
    load = os.getloadavg()
    folder = content.parent
    command = [sys.executable, str(Path(__file__).resolve()), "--stage-child", str(content), str(folder / "output-stages"), str(manifest)]
    if args.profile:
        command += ["--profile-dir", str(folder)]
    print(f"stages, one by one, on {content} ...", file=sys.stderr)
    finished = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    if finished.returncode != 0:
        print("the stage run failed (its traceback is above)", file=sys.stderr)
        return 1
    child = json.loads(finished.stdout.strip().splitlines()[-1])
    # The stage figures first, so a long command run that is cut short does not lose them.
    (folder / "stages.json").write_text(json.dumps(child, indent=1) + "\n", encoding="utf-8")
    print(f"stage figures written to {folder / 'stages.json'}", file=sys.stderr)
    shutil.rmtree(folder / "output-stages", ignore_errors=True)

    commands: list[Measured] = []
    if not args.stages_only:
        site = ["--content", str(content), "--output", str(folder / "output")]
        runs = (
            ("check", ["check", "--content", str(content)]),
            ("build --clean", ["build", *site, "--clean", "--quiet"]),
            ("build (again, nothing changed)", ["build", *site, "--quiet"]),
        )
        for label, arguments in runs:
            print(f"python -m generator {label} ...", file=sys.stderr)
            commands.append(measure(label, [sys.executable, "-m", "generator", *arguments]))
        commands.append(_measure_one_edit(content, manifest, site))

    text = report(args.articles, args.seed, generated, load, child, commands)
    print(text)
    if args.profile:
        for row in child["stages"]:
            print(f"{row['stage']}: {row['seconds']:.2f} s", *(f"    {line}" for line in row.get("top", [])), sep="\n")
    if args.append:
        with README.open("a", encoding="utf-8") as readme:
            readme.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
