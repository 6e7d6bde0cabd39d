"""Inference backends behind one interface, chosen per model by the config's `backend` word."""

from .base import BACKENDS, InferenceBackend, load_backend

__all__ = ["BACKENDS", "InferenceBackend", "load_backend"]
