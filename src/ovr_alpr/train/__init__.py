"""Training of the project's own models (application layer: nothing below imports it).

`ovr-alpr train reader` trains the plate-text reader and `ovr-alpr train detector` fine-tunes the nano plate
detector (both need the `[train]` extra).
"""
