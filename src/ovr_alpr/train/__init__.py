"""Training of the project's own models (application layer: nothing below imports it).

`ovr-alpr train reader` trains the plate-text reader shipped in `ovr_alpr/assets/` (needs the `[train]`
extra: PyTorch).
"""
