"""OVR-ALPR: open licence-plate recognition for edge boxes."""

__version__ = "0.1.0"
