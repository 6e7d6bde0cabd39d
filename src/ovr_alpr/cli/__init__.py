"""The `ovr-alpr` command line: one module per command. User errors are one line; tracebacks with --debug."""

from __future__ import annotations

import logging
import sys

import typer

from ..errors import OvrAlprError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="OVR-ALPR: licence-plate recognition for edge boxes.",
)

_state = {"debug": False}


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="show tracebacks for errors")) -> None:
    _state["debug"] = debug


def _register_commands() -> None:
    """Each command is one module of this package with a `register(app)`; adding one is a new module here."""
    from . import bench, eval, make_clip, models, run, train

    for module in (run, make_clip, eval, bench, models, train):
        module.register(app)


def main(argv: list[str] | None = None) -> int:
    _register_commands()
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        app(args=argv, standalone_mode=False)
    except OvrAlprError as exc:
        if debug:
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:
        # usage errors (unknown option, bad value) from the click inside typer, vendored in newer typers
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            return exc.exit_code
        if type(exc).__name__ == "Abort":
            return 1
        raise
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
