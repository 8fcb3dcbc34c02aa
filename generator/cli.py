"""The command line: ``python -m generator build|check|serve|verify|snapshot``."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import sys
import time
from pathlib import Path

from . import __version__, pipeline
from .config import Config, ConfigError, load_config
from .output import BuildLocked

DEFAULT_CONFIG = Path("config.yaml")
# Commands that live in their own module, which registers its parser. They load watchdog,
# bagit, warcio and http.server, so a ``build`` or ``check`` run does not import them: a
# build with nothing to do must answer in well under a second.
COMMAND_MODULES = ("serve", "verify", "snapshot")
OWN_COMMANDS = ("build", "check")


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every command that reads content shares; they override config.yaml."""
    parser.add_argument("--config", type=Path, help="configuration file (default: ./config.yaml if present)")
    parser.add_argument("--content", type=Path, help="folder of sources (overrides content_dir)")
    parser.add_argument("--output", type=Path, help="folder to build into (overrides output_dir)")


def load_from_args(args: argparse.Namespace) -> Config:
    """The Config the flags describe: the file, then --content and --output on top."""
    path = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    config = load_config(path)
    changes: dict[str, str] = {}
    # Flags are taken relative to the working directory, like any command-line path.
    if args.content is not None:
        changes["content_dir"] = str(Path(args.content).resolve())
    if args.output is not None:
        changes["output_dir"] = str(Path(args.output).resolve())
    return dataclasses.replace(config, **changes) if changes else config


def _print_problems(collection_problems: tuple, stream: object) -> None:
    for problem in collection_problems:
        print(problem, file=stream)  # type: ignore[arg-type]


def run_build(args: argparse.Namespace) -> int:
    try:
        config = load_from_args(args)
        report = pipeline.build(config, clean_build=args.clean, quiet=args.quiet)
    except (ConfigError, FileNotFoundError, BuildLocked) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_problems(report.problems, sys.stderr)
    print(report.summary())
    print(f"open {config.output_path.resolve() / 'index.html'}")
    if args.strict and (report.skipped or report.problems):
        print("strict: failing because files were skipped or problems flagged", file=sys.stderr)
        return 1
    return 0


def run_check(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        config = load_from_args(args)
        collection = pipeline.gather(config)
    except (ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _print_problems(collection.problems, sys.stdout)
    print(
        f"{len(collection.sources)} sources, {len(collection.articles)} articles, "
        f"{len(collection.dispatches)} dispatches, {len(collection.skipped)} skipped, "
        f"{len(collection.problems)} problems in {time.perf_counter() - started:.2f} s"
    )
    return 1 if collection.problems else 0


def make_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or, when ``command`` is build or check, of that one only."""
    parser = argparse.ArgumentParser(prog="python -m generator", description="Jianbao (剪报): build a static archive of news dispatches.")
    parser.add_argument("--version", action="version", version=f"jianbao {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="build content/ into output/")
    add_site_arguments(build)
    build.add_argument("--strict", action="store_true", help="exit non-zero if anything was skipped or flagged")
    build.add_argument("--clean", action="store_true", help="ignore caches and rebuild everything")
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.set_defaults(func=run_build)

    check = commands.add_parser("check", help="run every stage up to the catalog, write nothing, list problems")
    add_site_arguments(check)
    check.set_defaults(func=run_check)

    if command not in OWN_COMMANDS:
        for name in COMMAND_MODULES:
            importlib.import_module(f".{name}", __package__).register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    command = arguments[0] if arguments and arguments[0] in OWN_COMMANDS else None
    args = make_parser(command).parse_args(arguments)
    return int(args.func(args))
