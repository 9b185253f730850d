"""The ``tonghop`` command line.

    tonghop build [--source seeds] [--out out] [--lang vi|en] [--template PATH]

Runs the Prefect flow ``flows/briefing.py:build_briefing`` on Prefect's local ephemeral API
(no server to start). The exit status is non-zero only when no briefing could be built, with a
one-line reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import tonghop


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tonghop",
        description="Turn a folder of Vietnamese reports on local defence and military work "
        "into one consolidated Word briefing (Prefect flow build-briefing).",
    )
    parser.add_argument("--version", action="version", version=f"tonghop {tonghop.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="build the briefing of a folder of reports",
        description="Read every report of SOURCE, extract its facts and write briefing.docx, "
        "facts.csv, documents.csv and quarantine.csv into OUT.",
    )
    build.add_argument(
        "--source",
        type=Path,
        default=Path("seeds"),
        help="folder of reports to read (read-only; default: seeds)",
    )
    build.add_argument(
        "--out",
        type=Path,
        default=Path("out"),
        help="folder to write the briefing and tables into (default: out)",
    )
    build.add_argument(
        "--lang", choices=("vi", "en"), default="vi", help="language of the briefing (default: vi)"
    )
    build.add_argument(
        "--template",
        type=Path,
        default=None,
        help="a .docx template with jinja2 tags to use instead of the bundled one",
    )
    build.add_argument(
        "--batch-size",
        type=int,
        default=500,
        help="documents per task run of the normalise and extract stages",
    )
    build.add_argument(
        "--max-file-mb",
        type=float,
        default=20.0,
        help="files larger than this go to quarantine (default: 20)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tonghop`` command."""
    args = _parser().parse_args(argv)
    if args.command == "build":
        return _build(args)
    return 2


def _build(args: argparse.Namespace) -> int:
    from flows.briefing import build_briefing

    try:
        result = build_briefing(
            source=args.source,
            out=args.out,
            lang=args.lang,
            template=args.template,
            batch_size=args.batch_size,
            max_file_bytes=int(args.max_file_mb * 1024 * 1024),
        )
    except Exception as err:  # the flow's own failure: one line, non-zero exit
        print(f"tonghop: no briefing built: {err}", file=sys.stderr)
        return 1
    print(
        f"tonghop: {result['briefing']} ({result['documents']} documents, {result['facts']} facts, "
        f"{result['quarantined']} quarantined, {result['duplicates']} duplicates)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
