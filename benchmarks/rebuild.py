"""Time a rebuild after an archivist edits one source, as ``serve`` makes it (a rebuild with
the memo of the last build in memory, ``pipeline.rebuild``) or as the ``build`` command
does (a new process, which reads the memo the last build stored).

    .venv/bin/python benchmarks/rebuild.py --content DIR --output DIR --file NAME [--edit fix|paragraph] [--repeat 3] [--via serve|build]

Builds (or finds built) the site, then ``--repeat`` times: edits content/NAME and
rebuilds, then puts the file back and rebuilds; prints one JSON line with the seconds
of each edit's rebuild and of each restoring one, and the files each wrote (with
``--via build``, the seconds are the command's, from start to exit). The edit is
``fix`` (an OCR fix: one full stop in the middle of the file becomes a comma; the same
articles and dispatches) or ``paragraph`` (a paragraph appended, which becomes a new
article and a new dispatch). The file is restored even if a build fails.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generator import pipeline  # noqa: E402  (the repository's own package, not an installed one)
from generator.config import load_config  # noqa: E402

PARAGRAPH = "\n本报讯 这一段是为测量增量构建而加的。\n"


def _edited(text: str, edit: str) -> str:
    if edit == "paragraph":
        return text + PARAGRAPH
    stop = text.index("。", len(text) // 2)
    return text[:stop] + "，" + text[stop + 1 :]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--content", type=Path, required=True)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--file", required=True, help="the source to edit, by its name in content/")
    parser.add_argument("--edit", choices=("fix", "paragraph"), default="fix")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--via", choices=("serve", "build"), default="serve", help="the serve path (memo in memory) or the build command")
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    args = parser.parse_args()
    config = dataclasses.replace(
        load_config(args.config), content_dir=str(args.content.resolve()), output_dir=str(args.output.resolve())
    )
    command = [sys.executable, "-m", "generator", "build", "--quiet", "--config", str(args.config)]
    command += ["--content", str(config.content_path), "--output", str(config.output_path)]

    def rebuild(memo: pipeline.BuildMemo | None) -> tuple[int, pipeline.BuildMemo | None]:
        """Rebuild; the files written, and the memo for the next rebuild (serve only)."""
        if args.via == "serve":
            report, memo = pipeline.rebuild(config, memo, quiet=True)
            return report.written, memo
        finished = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        return int(re.findall(r"\((\d+) written\)", finished.stdout)[-1]), None

    started = time.perf_counter()
    _, memo = rebuild(None)
    first = time.perf_counter() - started
    path = config.content_path / args.file
    original = path.read_bytes()
    edited = _edited(original.decode("utf-8"), args.edit).encode("utf-8")
    edits: list[dict[str, float | int]] = []
    restores: list[dict[str, float | int]] = []
    try:
        for _ in range(args.repeat):
            path.write_bytes(edited)
            started = time.perf_counter()
            written, memo = rebuild(memo)
            edits.append({"seconds": round(time.perf_counter() - started, 3), "written": written})
            path.write_bytes(original)
            started = time.perf_counter()
            written, memo = rebuild(memo)
            restores.append({"seconds": round(time.perf_counter() - started, 3), "written": written})
    finally:
        path.write_bytes(original)
    print(json.dumps({"first": round(first, 3), "edits": edits, "restores": restores}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
