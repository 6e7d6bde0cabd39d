"""The command line shared by the rendered-scene checks of the plate detector (`tools.closeups`, `tools.osd`):
`--config`, `--n` scenes, `--json`; the figures are printed as one JSON line."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def check_main(
    description: str | None,
    measure: Callable[[Path | None, int], dict[str, Any]],
    default_n: int,
    argv: list[str] | None = None,
) -> int:
    """Parses `argv`, runs `measure(config, n)`, prints its figures and writes them to `--json` if given."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=None, help="YAML config (default: embedded models)")
    parser.add_argument("--n", type=int, default=default_n, help="rendered scenes")
    parser.add_argument("--json", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args(argv)
    result = measure(args.config, args.n)
    print(json.dumps(result))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0
