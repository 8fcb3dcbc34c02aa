"""The WACZ snapshot opened in ReplayWeb.page, the way a reader of the archive would open it.

The vendored ReplayWeb.page (tests/vendor/replaywebpage-2.5.3) and an embedding page with a
``<replay-web-page>`` element are served beside the WACZ by a loopback HTTP server (the
viewer's service worker needs http://localhost, not file://), and Debian's headless
Chromium opens them. What is checked is what a reader sees: the archived page's headline
inside the replay frame, and every record the page asked the archive for was found.
"""

from __future__ import annotations

import functools
import html
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archival_sites import SEED_CONTENT, seed_config, seed_site
from generator.config import Config
from generator.feeds import absolute_url
from generator.snapshot import take_snapshot
from tests.chromium import CHROMIUM

sync_api = pytest.importorskip("playwright.sync_api")

REPLAYWEBPAGE = Path(__file__).resolve().parent / "vendor" / "replaywebpage-2.5.3"
# The element's default replayBase: its service worker is replay/sw.js and answers below
# replay/w/ for the archive's records and below replay/w/api/ for the viewer's own questions.
REPLAY_BASE = "replay/"
RECORDS = "/replay/w/"
VIEWER_API = "/replay/w/api/"
WAIT_SECONDS = 30.0

# In CI (CI=true) the browser must be there: a missing one fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file() and os.environ.get("CI") != "true", reason="chromium is not installed"
)


class _RangeServer(ThreadingHTTPServer):
    """Remembers each GET it answered: the path, and the byte range asked for (None: whole)."""

    served: list[tuple[str, str | None]]


class _StaticFiles(SimpleHTTPRequestHandler):
    """One folder's files, with byte ranges as any web host serves them.

    Given ranges, ReplayWeb.page reads a WACZ by offsets (the zip's directory, the index,
    then single WARC records) instead of downloading it whole: the way a hosted snapshot
    is read, and the one that needs the WARC stored uncompressed in the zip.
    """

    server: _RangeServer

    def end_headers(self) -> None:
        self.send_header("Accept-Ranges", "bytes")
        super().end_headers()

    def do_GET(self) -> None:
        asked = self.headers.get("Range")
        self.server.served.append((self.path, asked))
        wanted = re.fullmatch(r"bytes=(\d+)-(\d*)", asked or "")
        file = Path(self.translate_path(self.path))
        if wanted is None or not file.is_file():
            super().do_GET()
            return
        content = file.read_bytes()
        start = int(wanted.group(1))
        end = min(int(wanted.group(2) or len(content) - 1), len(content) - 1)
        if start > end:
            self.send_error(416)
            return
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(file)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{len(content)}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(content[start : end + 1])

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a line per request would drown the test output


@dataclass(frozen=True)
class Replay:
    site: Path  # the built site the WACZ was made from
    config: Config
    folder: Path  # what the server serves: the WACZ, the viewer, the embedding pages
    base: str  # the server's address, ending in '/'
    server: _RangeServer


@dataclass
class Viewer:
    """A browser tab, and what it and its frames did while a test ran."""

    page: Any
    lookups: list[tuple[int, str]] = field(default_factory=list)  # (status, url) of each record asked for
    errors: list[str] = field(default_factory=list)

    def failed_lookups(self) -> list[tuple[int, str]]:
        return [(status, url) for status, url in self.lookups if status >= 400]


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    site = seed_site(tmp_path_factory)
    config = seed_config(SEED_CONTENT, site)
    folder = tmp_path_factory.mktemp("replay")
    take_snapshot(site, "wacz", folder / "site.wacz", config, {})
    shutil.copyfile(REPLAYWEBPAGE / "ui.js", folder / "ui.js")
    (folder / REPLAY_BASE).mkdir()
    shutil.copyfile(REPLAYWEBPAGE / "sw.js", folder / REPLAY_BASE / "sw.js")
    write_embedding_page(folder / "viewer-only.html", None)
    server = _RangeServer(("127.0.0.1", 0), functools.partial(_StaticFiles, directory=str(folder)))
    server.served = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Replay(site, config, folder, f"http://127.0.0.1:{server.server_address[1]}/", server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def viewer(browser: Any) -> Iterator[Viewer]:
    # A new context each time: a new profile, so the service worker and the collection
    # it stores start from nothing.
    context = browser.new_context()
    viewer = Viewer(context.new_page())

    def seen(response: Any) -> None:
        path = urlsplit(response.url).path
        if path.startswith(RECORDS) and not path.startswith(VIEWER_API):
            viewer.lookups.append((response.status, response.url))

    context.on("response", seen)
    viewer.page.on("pageerror", lambda error: viewer.errors.append(str(error)))
    yield viewer
    context.close()


def write_embedding_page(file: Path, url: str | None) -> None:
    """An HTML page with a ``<replay-web-page>`` showing the archived ``url`` from site.wacz.

    Without a url, the page loads the viewer and no archive.
    """
    element = "<replay-web-page></replay-web-page>"
    if url is not None:
        element = f'<replay-web-page source="site.wacz" url="{html.escape(url)}"></replay-web-page>'
    file.write_text(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>snapshot replay</title>\n"
        '<script src="ui.js"></script>\n'
        "<style>html, body { width: 100%; height: 100%; margin: 0 }"
        " replay-web-page { display: block; width: 100%; height: 100% }</style></head>\n"
        f"<body>{element}</body></html>\n",
        encoding="utf-8",
    )


def open_replay(viewer: Viewer, replay: Replay, name: str, url: str) -> None:
    """Open, as a returning reader, an embedding page showing the archived ``url``.

    ReplayWeb.page 2.5.3 loads its frame as soon as its service worker is registered, not
    once it is active; on a first visit the frame's page can then come from the server
    instead of the worker, and the replay never starts (seen here about one run in ten).
    A reader whose worker is already active never meets that race, so the worker is
    registered first, by a page with the viewer and no archive.
    """
    write_embedding_page(replay.folder / f"{name}.html", url)
    viewer.page.goto(replay.base + "viewer-only.html")
    # evaluate, not wait_for_function: the latter takes the promise an async function
    # returns for a true answer.
    active = viewer.page.evaluate(
        """async ([scope, seconds]) => {
            const deadline = Date.now() + seconds * 1000;
            while (Date.now() < deadline) {
                const registration = await navigator.serviceWorker.getRegistration(scope);
                if (registration?.active?.state === "activated") return true;
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            return false;
        }""",
        [REPLAY_BASE, WAIT_SECONDS],
    )
    assert active, "ReplayWeb.page's service worker never became active"
    viewer.page.goto(f"{replay.base}{name}.html")


def replayed_frame(viewer: Viewer, url: str) -> Any:
    """The frame in which the replay shows the archived ``url``, once it is there.

    The viewer nests it two frames down, at replay/w/<collection>/<time>mp_/<url>.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        for frame in viewer.page.frames:
            if frame.url.endswith("mp_/" + url):
                return frame
        if time.monotonic() > deadline:
            shown = [frame.url for frame in viewer.page.frames]
            raise AssertionError(f"the replay never showed {url}; frames: {shown}")
        viewer.page.wait_for_timeout(100)


def shown_headline(viewer: Viewer, frame: Any) -> str:
    first = frame.locator("h1").first
    try:
        first.wait_for(state="visible", timeout=WAIT_SECONDS * 1000)
    except sync_api.TimeoutError:
        raise AssertionError(f"no headline shown at {frame.url}; failed lookups: {viewer.failed_lookups()}") from None
    return " ".join(first.inner_text().split())


class _Headline(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.parts: list[str] = []
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h1" and not self.done:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1" and self.depth:
            self.depth -= 1
            self.done = self.depth == 0

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def headline(site: Path, path: str) -> str:
    """The text of the first <h1> of the built page ``path``, spaces collapsed."""
    parser = _Headline()
    parser.feed((site / path).read_text(encoding="utf-8"))
    text = " ".join("".join(parser.parts).split())
    assert text, f"{path} has no headline"
    return text


def test_the_home_page_replays_and_its_link_leads_to_a_dispatch(replay: Replay, viewer: Viewer) -> None:
    home = absolute_url(replay.config, "index.html")
    before = len(replay.server.served)
    open_replay(viewer, replay, "home", home)
    frame = replayed_frame(viewer, home)
    assert shown_headline(viewer, frame) == headline(replay.site, "index.html")
    # The first dispatch the home page links to, followed inside the replay.
    link = frame.locator("a[href^='dispatches/d-']").first
    href = link.get_attribute("href")
    assert href is not None
    link.click()
    dispatch = replayed_frame(viewer, absolute_url(replay.config, href))
    assert shown_headline(viewer, dispatch) == headline(replay.site, href)
    assert viewer.failed_lookups() == []
    stylesheet = "mp_/" + absolute_url(replay.config, "static/style.css")
    assert any(url.endswith(stylesheet) for status, url in viewer.lookups)
    assert viewer.errors == []
    # The WACZ was read only by byte ranges, never whole.
    reads = [asked for path, asked in replay.server.served[before:] if path == "/site.wacz"]
    assert reads and None not in reads, reads


def test_a_page_under_a_non_ascii_path_replays_by_its_percent_encoded_url(replay: Replay, viewer: Viewer) -> None:
    path = next(
        page.relative_to(replay.site).as_posix()
        for page in sorted(replay.site.rglob("index.html"))
        if not page.relative_to(replay.site).as_posix().isascii()
    )
    url = absolute_url(replay.config, path)
    assert "%" in url
    open_replay(viewer, replay, "non-ascii", url)
    assert shown_headline(viewer, replayed_frame(viewer, url)) == headline(replay.site, path)
    assert viewer.failed_lookups() == []
    assert viewer.errors == []
