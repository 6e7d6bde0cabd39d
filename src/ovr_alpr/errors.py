"""User-facing error families, each caught once in the CLI and printed as one line with a hint."""

from __future__ import annotations


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
