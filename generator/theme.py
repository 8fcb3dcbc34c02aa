"""Themes: jinja2 templates and static files, with a site theme layered over the default.

A theme is a folder ``themes/<name>/`` holding ``templates/`` and ``static/``. A site
theme states ``extends: <other theme>`` in its ``theme.yaml``; any template or static
file it does not have is taken from the theme it extends, and in the end from the
default theme. The default theme is looked up in the site's themes folder first and
then beside this package, so a site with its own themes folder still gets it.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import jinja2
import yaml
from jinja2.bccache import Bucket
from markupsafe import Markup

from .catalog import href
from .config import Config
from .feeds import absolute_url

DEFAULT_THEME = "default"

# The themes shipped with Jianbao (the repository's themes/ folder).
BUILTIN_THEMES = Path(__file__).resolve().parent.parent / "themes"

# The keys a theme.yaml may hold.
_THEME_KEYS = ("extends",)


def datetime_attr(value: str) -> str:
    """A date as an HTML datetime attribute: a yearless '--MM-DD' is written 'MM-DD' there."""
    return value[2:] if value.startswith("--") else value


class ThemeError(Exception):
    """A theme that cannot be used: missing, badly described, or extending itself."""


def _theme_folder(name: str, config: Config) -> Path:
    for base in (config.themes_path, BUILTIN_THEMES):
        folder = base / name
        if folder.is_dir():
            return folder
    raise ThemeError(f"{config.themes_path / name}: no such theme folder (theme '{name}')")


def _extends(folder: Path) -> str | None:
    """The theme named by ``extends:`` in the folder's theme.yaml, if it has one."""
    description = folder / "theme.yaml"
    if not description.is_file():
        return None
    try:
        data = yaml.safe_load(description.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ThemeError(f"{description}: not valid YAML ({error})") from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ThemeError(f"{description}: must be a mapping of keys to values")
    unknown = sorted(set(data) - set(_THEME_KEYS))
    if unknown:
        raise ThemeError(f"{description}: unknown key '{unknown[0]}' (known keys: {', '.join(_THEME_KEYS)})")
    parent = data.get("extends")
    if parent is not None and not isinstance(parent, str):
        raise ThemeError(f"{description}: 'extends' must be a string, not {parent!r}")
    return parent


def theme_chain(config: Config) -> tuple[Path, ...]:
    """The folders of the site theme and every theme it extends, nearest first, default last."""
    chain: list[Path] = []
    name: str | None = config.theme
    seen: list[str] = []
    while name is not None:
        if name in seen:
            raise ThemeError(f"theme '{config.theme}': extends itself through {' -> '.join(seen + [name])}")
        seen.append(name)
        folder = _theme_folder(name, config)
        chain.append(folder)
        name = _extends(folder)
        if name is None and seen[-1] != DEFAULT_THEME:
            # Every theme ends in the default one, so no template is ever missing.
            name = DEFAULT_THEME
    return tuple(chain)


class CompiledTemplates(jinja2.BytecodeCache):
    """Compiled templates kept in a mapping (bucket key -> bytecode) that outlives the theme.

    Compiling the templates took a third of a second; a renderer whose memo was read
    back from disk finds their code in the memo instead. Jinja checks each entry against
    the template's source and its own version and Python's before using it; what else
    shapes the code (the environment's options, this module) is in the render's site
    key, under which alone its memo is reused.
    """

    def __init__(self, store: MutableMapping[str, bytes]) -> None:
        self.store = store

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


class Theme:
    """The templates and static files of the configured theme, compiled once per build.

    ``compiled``, when given, keeps the templates' code (see ``CompiledTemplates``).
    """

    def __init__(self, config: Config, compiled: MutableMapping[str, bytes] | None = None) -> None:
        self.config = config
        self.folders = theme_chain(config)
        self.environment = jinja2.Environment(
            loader=jinja2.FileSystemLoader([str(folder / "templates") for folder in self.folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            # Every template of a site build stays compiled for the whole build.
            cache_size=-1,
            auto_reload=False,
            bytecode_cache=CompiledTemplates(compiled) if compiled is not None else None,
        )
        # Every template may percent-encode a path and make the absolute URL of one.
        self.environment.globals["href"] = href
        self.environment.globals["absolute_url"] = lambda path: absolute_url(config, path)
        self.environment.filters["datetime_attr"] = datetime_attr
        self.environment.globals["part"] = self.part
        self._parts: dict[tuple[str, tuple[tuple[str, Any], ...]], Markup] = {}

    def template(self, name: str) -> jinja2.Template:
        return self.environment.get_template(name)

    def render(self, template: str, context: dict[str, Any]) -> str:
        return self.environment.get_template(template).render(context)

    def part(self, template: str, **arguments: Any) -> Markup:
        """A partial template rendered once for each set of (hashable) arguments, then reused.

        Pages share most of their frame (the header differs only by page depth and
        current section), and rendering it again for each of tens of thousands of pages
        was a large share of the build. A partial sees its arguments, ``site`` and the
        globals, never the page context, so its output depends on nothing else.
        """
        key = (template, tuple(sorted(arguments.items())))
        html = self._parts.get(key)
        if html is None:
            html = self._parts[key] = Markup(self.template(template).render(arguments, site=self.config))
        return html

    def static_files(self) -> dict[str, bytes]:
        """Path under static/ -> bytes; a file in a nearer theme hides one of the same path."""
        files: dict[str, bytes] = {}
        for folder in reversed(self.folders):
            static = folder / "static"
            if not static.is_dir():
                continue
            for path in sorted(static.rglob("*")):
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(static).parts):
                    files[path.relative_to(static).as_posix()] = path.read_bytes()
        return dict(sorted(files.items()))
