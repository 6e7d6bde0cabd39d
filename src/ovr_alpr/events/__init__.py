"""Events: turn a track's final read into a clean, validated, de-duplicated `PlateEvent`."""

from .model import ImageRefs, NodeInfo, PlateEvent, PlateInfo, VehicleInfo

__all__ = ["ImageRefs", "NodeInfo", "PlateEvent", "PlateInfo", "VehicleInfo"]
