"""Training of the project's own models (application layer: nothing below imports it).

`ovr-alpr train detector` fine-tunes the nano plate detector (needs the `[train]` extra: torch, Ultralytics).
"""
