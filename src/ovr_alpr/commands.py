"""Collects the CLI commands of every area; each area module exposes `register(app)`."""

from __future__ import annotations

import importlib
import logging

import typer

log = logging.getLogger(__name__)

# module path -> registers its commands on the app
COMMAND_MODULES = [
    "ovr_alpr.run_cli",
    "ovr_alpr.synth.cli",
    "ovr_alpr.evaluation.cli",
    "ovr_alpr.bench.cli",
    "ovr_alpr.models.cli",
    "ovr_alpr.train.cli",
]


def register_all(app: typer.Typer) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:  # area not built yet
                continue
            raise
        module.register(app)
