"""Helpers for the source tests: tiny generated videos and a local MJPEG-over-HTTP camera."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

FRAME_W, FRAME_H = 64, 48
DIGITS = 4  # frame numbers are drawn as 4 base-8 digits, one flat block each


def corrupt_avi_frame(path: Path, frame: int) -> None:
    """Zero the JPEG payload of one frame of an MJPG AVI, so the decoder rejects it but the file goes on."""
    data = bytearray(path.read_bytes())
    pos = data.index(b"movi") + 4
    seen = 0
    while pos + 8 <= len(data):
        chunk_id, size = bytes(data[pos : pos + 4]), int.from_bytes(data[pos + 4 : pos + 8], "little")
        if chunk_id == b"00dc":
            if seen == frame:
                data[pos + 8 : pos + 8 + size] = bytes(size)
                path.write_bytes(bytes(data))
                return
            seen += 1
        pos += 8 + size + (size & 1)
    raise AssertionError(f"frame {frame} not found in {path}")


# ---------------------------------------------------------------- frames that show their number


def encode_seq(seq: int) -> np.ndarray:
    """A frame showing `seq` (0..4095) as flat grey blocks, one per base-8 digit."""
    image = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    block = FRAME_W // DIGITS
    for d in range(DIGITS):
        image[:, d * block : (d + 1) * block] = 20 + 30 * ((seq >> (3 * (DIGITS - 1 - d))) & 7)
    return image


def decode_seq(image: np.ndarray) -> int:
    """The number `encode_seq` drew into an image (robust to lossy coding)."""
    block = FRAME_W // DIGITS
    seq = 0
    for d in range(DIGITS):
        level = float(image[8:-8, d * block + 4 : (d + 1) * block - 4].mean())
        seq = seq * 8 + round((level - 20) / 30)
    return seq


# ---------------------------------------------------------------- live MJPEG camera


class MjpegCamera:
    """A local HTTP camera serving `multipart/x-mixed-replace` JPEGs at about `fps`; stop() and start() again.

    Attributes:
        seq: the sequence number of the latest frame sent (drawn into the frame, see `decode_seq`).
    """

    def __init__(self, fps: float = 100.0) -> None:
        self.interval_s = 1.0 / fps
        self.seq = -1
        self.port = 0
        self._server: ThreadingHTTPServer | None = None
        self._stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/stream.mjpg"

    def start(self, first_seq: int = 0) -> None:
        camera = self
        camera.seq = first_seq - 1
        self._stop.clear()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    while not camera._stop.is_set():
                        camera.seq += 1
                        jpeg = cv2.imencode(".jpg", encode_seq(camera.seq), [cv2.IMWRITE_JPEG_QUALITY, 95])[1]
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                        head %= jpeg.size
                        self.wfile.write(head + jpeg.tobytes() + b"\r\n")
                        time.sleep(camera.interval_s)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def wait_until(predicate: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()
