"""``python -m generator serve``: build, serve the output, rebuild on every change, reload the browser.

The server runs the very ``pipeline.build`` that ``build`` runs. While serving, every
HTML response gets one extra ``<script src>`` that listens for server-sent events and
reloads the page after each rebuild; it is added to the response only, never to a file
of the site. A failed rebuild keeps the server up: every page then shows the error, with
file and line, until a build succeeds again.
"""

from __future__ import annotations

import argparse
import html
import mimetypes
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import jinja2
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from . import cli, pipeline
from .config import Config, ConfigError
from .ingest import detect_encoding

# Paths under this prefix belong to the preview server, not to the site.
_PREFIX = "/__jianbao/"
EVENTS_PATH = _PREFIX + "events"
RELOAD_SCRIPT_PATH = _PREFIX + "reload.js"
# An external script rather than inline code, so a Content-Security-Policy of 'self' allows it.
RELOAD_TAG = f'<script src="{RELOAD_SCRIPT_PATH}"></script>'
_RELOAD_SCRIPT = (
    "// Added by `jianbao serve` while previewing; not part of the built site.\n"
    f'new EventSource("{EVENTS_PATH}").addEventListener("reload", function () {{ location.reload(); }});\n'
)
# Editors save in bursts (write, rename, chmod); one build follows the last event of a burst.
DEBOUNCE_SECONDS = 0.15
# A comment line keeps idle event streams open through proxies and lets a closed one be noticed.
_KEEPALIVE_SECONDS = 10.0
# Events that mean a file changed; watchdog also reports opens and closes, which builds cause themselves.
_CHANGES = {"created", "modified", "deleted", "moved"}

_TYPES = {
    ".html": "text/html",
    ".css": "text/css",
    ".js": "text/javascript",
    ".json": "application/json",
    ".md": "text/markdown",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".ico": "image/vnd.microsoft.icon",
}
# Python codec names of ingest.detect_encoding -> IANA charset names.
_CHARSETS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "utf-16": "utf-16", "utf-32": "utf-32", "gb18030": "gb18030", "big5hkscs": "big5-hkscs"}


def content_type(path: str, data: bytes) -> str:
    """The Content-Type of a site file; text types say their charset."""
    suffix = Path(path).suffix.lower()
    kind = _TYPES.get(suffix) or mimetypes.guess_type(path)[0] or "application/octet-stream"
    textual = kind.startswith("text/") or kind in ("application/json", "application/xml", "image/svg+xml")
    if not textual:
        return kind
    # The site republishes each source's original bytes, which may be GB18030 or Big5.
    detected = detect_encoding(data) if data else ("utf-8", "")
    charset = _CHARSETS.get(detected[0], "utf-8") if detected else "utf-8"
    return f"{kind}; charset={charset}"


def inject_reload(page: bytes) -> bytes:
    """The page with the reload script before its last ``</body>`` (or at its end)."""
    tag = RELOAD_TAG.encode()
    at = page.lower().rfind(b"</body>")
    return page + tag if at < 0 else page[:at] + tag + page[at:]


def describe_failure(error: BaseException) -> str:
    """One line naming the file and line that broke the build, then what went wrong."""
    if isinstance(error, jinja2.TemplateSyntaxError):
        where = error.filename or error.name or "template"
        return f"{where}:{error.lineno}: {error.message}"
    if isinstance(error, ConfigError):
        return str(error)  # already starts with the file (and line)
    frames = traceback.extract_tb(error.__traceback__)
    # Jinja2 rewrites tracebacks so template code appears under the template's own file and line.
    templates = [frame for frame in frames if not frame.filename.endswith(".py") and not frame.filename.startswith("<")]
    frame = templates[-1] if templates else (frames[-1] if frames else None)
    where = f"{frame.filename}:{frame.lineno}: " if frame is not None else ""
    return f"{where}{type(error).__name__}: {error}"


def error_page(message: str, details: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Build failed</title></head>\n"
        "<body><h1>Build failed</h1>\n"
        f"<p>The last build failed; this page reloads when a build succeeds.</p>\n"
        f"<pre id=\"build-error\">{html.escape(message)}</pre>\n"
        f"<details><summary>Traceback</summary><pre>{html.escape(details)}</pre></details>\n"
        "</body></html>\n"
    ).encode()


@dataclass(frozen=True)
class BuildState:
    """The outcome of the latest build, as the pages should show it."""

    generation: int  # counts builds that changed what a page shows
    error: str | None  # file:line: message of a failed build, None after a good one
    details: str  # the traceback of the failure


class Preview:
    """The preview: builds on demand, serves the output over HTTP, tells pages when to reload."""

    def __init__(
        self,
        load_config: Callable[[], Config],
        config_file: Path | None,
        *,
        host: str = "127.0.0.1",
        port: int = 8000,
        poll: bool = False,
        log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    ) -> None:
        self._load_config = load_config
        self._config_file = config_file.resolve() if config_file is not None else None
        self._poll = poll
        self._log = log
        self.config = load_config()
        self.state = BuildState(0, None, "")
        self._memo: pipeline.BuildMemo | None = None
        self._changed = threading.Condition()
        self._stopping = False
        self._last_event = 0.0
        self._pending = threading.Event()
        self._observer: BaseObserver | None = None
        self._watched: tuple[Path, ...] = ()
        self.server = _Server((host, port), self)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    # Building ----------------------------------------------------------------------

    def rebuild(self) -> None:
        """Build once with the same code as ``build``; a failure becomes the error page."""
        error: str | None = None
        details = ""
        written = 0
        try:
            self.config = self._load_config()
            # The memo of the last build stays in memory, so an edit redoes only what it touches.
            report, self._memo = pipeline.rebuild(self.config, self._memo, quiet=True)
            written = report.written
            self._log(report.summary())
        except Exception as failure:  # any failure must leave the server up, showing it
            self._memo = None  # the failed build may have updated parts of it in place
            error = describe_failure(failure)
            details = "".join(traceback.format_exception(failure))
            self._log(f"build failed: {error}")
        with self._changed:
            old = self.state
            if written or error != old.error:
                self.state = BuildState(old.generation + 1, error, details)
                self._changed.notify_all()
        self._watch()

    def _note_change(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGES:
            return
        paths = [Path(str(event.src_path))]
        if getattr(event, "dest_path", ""):
            paths.append(Path(str(event.dest_path)))
        if not any(self._is_input(path) for path in paths):
            return
        self._last_event = time.monotonic()
        self._pending.set()

    def _is_input(self, path: Path) -> bool:
        if self._config_file is not None and path == self._config_file:
            return True
        return any(path.is_relative_to(folder) for folder in self._watched if folder != self._config_folder())

    def _config_folder(self) -> Path | None:
        return self._config_file.parent if self._config_file is not None else None

    def _rebuild_loop(self) -> None:
        while True:
            self._pending.wait()
            if self._stopping:
                return
            # Wait for the burst to end: a quiet spell of DEBOUNCE_SECONDS.
            while (quiet := time.monotonic() - self._last_event) < DEBOUNCE_SECONDS:
                time.sleep(DEBOUNCE_SECONDS - quiet)
            self._pending.clear()
            if self._stopping:
                return
            self.rebuild()

    # Watching ----------------------------------------------------------------------

    def _watch(self) -> None:
        """Watch content/, themes/ and the config file; follow the config when it moves them."""
        if self._observer is None:
            return
        config_folder = self._config_folder()
        folders = (self.config.content_path.resolve(), self.config.themes_path.resolve())
        wanted = tuple(folder for folder in folders if folder.is_dir())
        wanted += (config_folder,) if config_folder is not None else ()
        if wanted == self._watched:
            return
        self._watched = wanted
        handler = FileSystemEventHandler()
        handler.on_any_event = self._note_change  # type: ignore[method-assign]
        self._observer.unschedule_all()
        for folder in wanted:
            # The config file's folder is usually the project: only the file itself matters there.
            self._observer.schedule(handler, str(folder), recursive=folder != config_folder)

    # Serving -----------------------------------------------------------------------

    def start(self) -> None:
        """Build, then serve and watch in background threads."""
        self._observer = PollingObserver(timeout=0.5) if self._poll else Observer()
        self.rebuild()  # also schedules the watches
        self._observer.start()
        for target in (self.server.serve_forever, self._rebuild_loop):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def close(self) -> None:
        self._stopping = True
        self._pending.set()
        with self._changed:
            self._changed.notify_all()
        if self._threads:  # shutdown() waits for serve_forever, so only once it has run
            self.server.shutdown()
        self.server.server_close()
        if self._observer is not None and self._observer.is_alive():
            self._observer.stop()
            self._observer.join()
        for thread in self._threads:
            thread.join(timeout=5)

    def wait_for_change(self, seen: int, timeout: float) -> BuildState | None:
        """The state once its generation passes ``seen``; None on timeout or shutdown."""
        with self._changed:
            self._changed.wait_for(lambda: self._stopping or self.state.generation > seen, timeout)
            return None if self._stopping or self.state.generation <= seen else self.state

    @property
    def stopping(self) -> bool:
        return self._stopping


class _Server(ThreadingHTTPServer):
    # A page left open holds its event stream: such threads must not keep the process alive.
    daemon_threads = True

    def __init__(self, address: tuple[str, int], preview: Preview) -> None:
        super().__init__(address, _SiteHandler)
        self.preview = preview


def site_path(request_path: str) -> list[str] | None:
    """The path segments a request names inside the site, or None when it tries to leave it.

    Both the raw and the percent-decoded segments are checked, so ``/../``,
    ``/%2e%2e/`` and ``/..%2f`` are all refused.
    """
    raw = urlsplit(request_path).path
    decoded = unquote(raw, errors="strict")
    if "\\" in decoded or "\x00" in decoded or not decoded.startswith("/"):
        return None
    for path in (raw, decoded):
        if any(part in (".", "..") for part in path.split("/")):
            return None
    return [part for part in decoded.split("/") if part]


class _SiteHandler(BaseHTTPRequestHandler):
    server_version = "JianbaoPreview"

    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # a line per request would drown the build summaries

    def do_HEAD(self) -> None:
        self._respond(head=True)

    def do_GET(self) -> None:
        self._respond(head=False)

    def _send(self, status: HTTPStatus, body: bytes, kind: str, head: bool, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _respond(self, head: bool) -> None:
        path = urlsplit(self.path).path
        if path == EVENTS_PATH and not head:
            self._stream_events()
            return
        if path == RELOAD_SCRIPT_PATH:
            self._send(HTTPStatus.OK, _RELOAD_SCRIPT.encode(), "text/javascript; charset=utf-8", head)
            return
        try:
            parts = site_path(self.path)
        except UnicodeDecodeError:
            parts = None
        if parts is None:
            self._send(HTTPStatus.FORBIDDEN, b"403: outside the site\n", "text/plain; charset=utf-8", head)
            return
        state = self.server.preview.state
        root = self.server.preview.config.output_path.resolve()
        target = root.joinpath(*parts)
        if target.is_dir():
            if not path.endswith("/"):
                self._send(HTTPStatus.MOVED_PERMANENTLY, b"", "text/plain; charset=utf-8", head, {"Location": quote(path + "/")})
                return
            target = target / "index.html"
        if state.error is not None and target.suffix in (".html", ""):
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, inject_reload(error_page(state.error, state.details)), "text/html; charset=utf-8", head)
            return
        data = self._read_inside(root, target)
        if data is None:
            self._send_not_found(root, head)
            return
        kind = content_type(target.name, data)
        if kind.startswith("text/html"):
            data = inject_reload(data)
        self._send(HTTPStatus.OK, data, kind, head)

    @staticmethod
    def _read_inside(root: Path, target: Path) -> bytes | None:
        """The file's bytes, or None when it is missing or (through a link) outside the site."""
        try:
            real = target.resolve()
            if not real.is_relative_to(root) or not real.is_file():
                return None
            return real.read_bytes()
        except OSError:
            return None  # gone between the check and the read: a rebuild swapped the site

    def _send_not_found(self, root: Path, head: bool) -> None:
        page = self._read_inside(root, root / "404.html")
        if page is None:
            self._send(HTTPStatus.NOT_FOUND, b"404: not found\n", "text/plain; charset=utf-8", head)
        else:
            self._send(HTTPStatus.NOT_FOUND, inject_reload(page), "text/html; charset=utf-8", head)

    def _stream_events(self) -> None:
        preview = self.server.preview
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = preview.state.generation
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while not preview.stopping:
                state = preview.wait_for_change(seen, _KEEPALIVE_SECONDS)
                if state is None:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    seen = state.generation
                    self.wfile.write(f"event: reload\ndata: {seen}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the page went away


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("serve", help="build, serve output/ on this machine, rebuild and reload on every change")
    cli.add_site_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000; 0 picks a free one)")
    parser.add_argument("--poll", action="store_true", help="poll for changes (for file systems without change events)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config_file = args.config if args.config is not None else (cli.DEFAULT_CONFIG if cli.DEFAULT_CONFIG.is_file() else None)
    try:
        preview = Preview(lambda: cli.load_from_args(args), config_file, host=args.host, port=args.port, poll=args.poll)
    except (ConfigError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        preview.start()
        print(f"serving {preview.config.output_path} at {preview.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        preview.close()
    return 0
