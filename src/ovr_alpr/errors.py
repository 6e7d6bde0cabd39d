"""User-facing error families, each caught once in the CLI and printed as one line with a hint."""

from __future__ import annotations

from pathlib import Path


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of an exception's message (or its type name), for one-line user messages."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__


class OvrAlprError(Exception):
    """Base of every error meant for the user: a message saying what is wrong and a hint saying what to do."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        text = f"{type(self).__name__}: {self.message}"
        if self.hint:
            text += f" -> {self.hint}"
        return " ".join(text.split())


class ConfigError(OvrAlprError):
    """The configuration (YAML or command-line options) is invalid."""


class SourceError(OvrAlprError):
    """A video source is missing, unreadable or unreachable."""

    exit_code = 3


class ModelError(OvrAlprError):
    """A model file is missing, of the wrong kind, or cannot be loaded by the chosen backend."""

    exit_code = 4


class SinkError(OvrAlprError):
    """An output sink cannot be set up (delivery failures are spooled, not raised)."""

    exit_code = 5


def check_writable(path: str | Path, option: str) -> Path:
    """Fail before the work, not after it: `path` (an output file) can be created or overwritten.

    Creates the missing parent folders; creates no file.

    Raises:
        ConfigError: the path is a folder, its folder cannot be created, or it is not writable.
    """
    import os

    target = Path(path).expanduser()
    problem = ""
    if target.is_dir():
        problem = "is a folder"
    else:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"its folder cannot be created ({exc.strerror or exc})"
        else:
            probe = target if target.exists() else target.parent
            if not os.access(probe, os.W_OK):
                problem = "is not writable"
    if problem:
        raise ConfigError(f"{option} {target} {problem}", f"give {option} a writable file path")
    return target
