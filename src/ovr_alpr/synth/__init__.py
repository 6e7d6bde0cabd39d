"""Synthetic data: rendered plates, drawn vehicles, road clips and labelled stills with known ground truth.

Kept import-light: `ovr_alpr.synth.clip` (OpenCV, Pillow) is imported by whoever needs it.
"""
