"""Frame sources: video files, image folders, network streams and local cameras behind one interface."""

from .base import SOURCES, FrameSource, SourceStats, detect_kind, open_source
from .file import FileSource
from .images import ImageFolderSource
from .live import CameraSource, LiveSource, StreamSource

__all__ = [
    "SOURCES",
    "CameraSource",
    "FileSource",
    "FrameSource",
    "ImageFolderSource",
    "LiveSource",
    "SourceStats",
    "StreamSource",
    "detect_kind",
    "open_source",
]
