"""The preview server, driven over real HTTP on a free loopback port."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.config import load_config
from generator.serve import EVENTS_PATH, RELOAD_TAG, Preview, content_type, site_path
from test_incremental import make_project

# A rebuild of the seeds takes well under this; the margin is for a loaded CI machine.
TIMEOUT = 30.0


def get(preview: Preview, path: str) -> tuple[int, dict[str, str], bytes]:
    host, port = preview.server.server_address[:2]
    connection = http.client.HTTPConnection(str(host), int(port), timeout=TIMEOUT)
    try:
        # http.client sends the path exactly as given, so '/../' reaches the server unnormalised.
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


class EventStream:
    """A client of the server-sent events, like the EventSource of an open page."""

    def __init__(self, preview: Preview) -> None:
        host, port = preview.server.server_address[:2]
        self.connection = http.client.HTTPConnection(str(host), int(port), timeout=TIMEOUT)
        self.connection.request("GET", EVENTS_PATH)
        self.response = self.connection.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("Content-Type") == "text/event-stream; charset=utf-8"
        assert self.response.fp.readline() == b": connected\n"

    def next_event(self) -> str:
        """The name of the next event (keep-alive comments skipped)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            line = self.response.fp.readline().decode()
            if line.startswith("event: "):
                return line.removeprefix("event: ").strip()
        raise AssertionError("no event")

    def close(self) -> None:
        self.connection.close()


def start(config_file: Path, poll: bool = False) -> Preview:
    preview = Preview(lambda: load_config(config_file), config_file, host="127.0.0.1", port=0, poll=poll, log=lambda line: None)
    preview.start()
    return preview


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Preview, Path]]:
    """One server for the tests that only read: starting one costs a build."""
    project = make_project(tmp_path_factory.mktemp("served"))
    preview = start(project)
    yield preview, project
    preview.close()


@pytest.fixture
def preview(served: tuple[Preview, Path]) -> Preview:
    return served[0]


@pytest.fixture
def served_project(served: tuple[Preview, Path]) -> Path:
    return served[1]


def test_pages_are_served_with_the_reload_script_the_site_does_not_have(preview: Preview, served_project: Path) -> None:
    project = served_project
    status, headers, body = get(preview, "/")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    built = (project.parent / "output" / "index.html").read_bytes()
    assert RELOAD_TAG.encode() not in built
    assert body.replace(RELOAD_TAG.encode(), b"") == built
    assert body.count(RELOAD_TAG.encode()) == 1
    for page in (project.parent / "output").rglob("*.html"):
        assert b"__jianbao" not in page.read_bytes()


def test_content_types_say_their_charset(preview: Preview) -> None:
    assert get(preview, "/catalog.json")[1]["content-type"] == "application/json; charset=utf-8"
    source = get(preview, "/catalog.json")[2].decode()
    markdown = re.search(r'"markdown_url": "([^"]+)"', source)
    assert markdown is not None
    status, headers, _ = get(preview, "/" + markdown.group(1))
    assert (status, headers["content-type"]) == (200, "text/markdown; charset=utf-8")
    assert content_type("x.txt", "简体中文的原件".encode("gb18030")) == "text/plain; charset=gb18030"
    assert content_type("x.png", b"\x89PNG") == "image/png"


def test_a_folder_redirects_to_its_slash_and_serves_its_index(preview: Preview) -> None:
    status, headers, _ = get(preview, "/search")
    assert (status, headers["location"]) == (301, "/search/")
    assert get(preview, "/search/")[0] == 200


def test_a_missing_path_gets_the_site_404_page(preview: Preview, served_project: Path) -> None:
    project = served_project
    status, headers, body = get(preview, "/no/such/page.html")
    assert status == 404
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert body.replace(RELOAD_TAG.encode(), b"") == (project.parent / "output" / "404.html").read_bytes()


def test_paths_out_of_the_site_are_refused(preview: Preview) -> None:
    for path in ("/../config.yaml", "/%2e%2e/config.yaml", "/sources/%2E%2E/%2e%2e/config.yaml", "/..%2fconfig.yaml", "/%2e%2e%5cconfig.yaml"):
        status, _, body = get(preview, path)
        assert (status, body) == (403, b"403: outside the site\n"), path


def test_site_path_keeps_names_with_dots() -> None:
    assert site_path("/sources/a..b/x.html?q=1") == ["sources", "a..b", "x.html"]
    assert site_path("/%E6%96%B0%E9%97%BB/") == ["新闻"]
    assert site_path("/a/./b") is None


def test_an_edited_source_is_rebuilt_and_open_pages_told_to_reload(project: Path) -> None:
    preview = start(project)
    source = sorted((project.parent / "content").glob("*.txt"))[2]
    page = f"/sources/{source.stem}/index.html"
    assert "实时预览测试" not in get(preview, page)[2].decode()
    events = EventStream(preview)
    try:
        source.write_text(source.read_text(encoding="utf-8") + "\n\n实时预览测试的新段落。\n", encoding="utf-8")
        assert events.next_event() == "reload"
        assert "实时预览测试" in get(preview, page)[2].decode()
    finally:
        events.close()
        preview.close()


@pytest.mark.parametrize("poll", [False, True], ids=["events", "polling"])
def test_a_broken_template_shows_the_error_until_it_is_fixed(project: Path, poll: bool) -> None:
    preview = start(project, poll=poll)
    template = project.parent / "themes" / "default" / "templates" / "base.html"
    good = template.read_text(encoding="utf-8")
    lines = good.split("\n")
    broken_line = len(lines) // 2
    lines.insert(broken_line, "{% if %}")
    events = EventStream(preview)
    try:
        template.write_text("\n".join(lines), encoding="utf-8")
        assert events.next_event() == "reload"
        status, headers, body = get(preview, "/")
        assert status == 500
        assert headers["content-type"] == "text/html; charset=utf-8"
        message = re.search(r'<pre id="build-error">([^<]*)</pre>', body.decode())
        assert message is not None
        assert message.group(1).startswith(f"{template}:{broken_line + 1}: ")
        assert RELOAD_TAG in body.decode()  # the error page reloads itself after the fix
        template.write_text(good, encoding="utf-8")
        assert events.next_event() == "reload"
        assert get(preview, "/")[0] == 200
    finally:
        events.close()
        preview.close()


def test_the_command_serves_on_loopback_and_stops_on_interrupt(project: Path) -> None:
    command = [sys.executable, "-m", "generator", "serve", "--config", str(project), "--port", "0"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    process = subprocess.Popen(command, cwd=project.parent, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        line = ""
        while "serving" not in line:
            line = process.stderr.readline()
            assert line, "the server exited before serving"
        address = re.search(r"at http://(127\.0\.0\.1):(\d+)/ ", line)
        assert address is not None, line
        connection = http.client.HTTPConnection(address.group(1), int(address.group(2)), timeout=TIMEOUT)
        connection.request("GET", "/")
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=TIMEOUT) == 0
