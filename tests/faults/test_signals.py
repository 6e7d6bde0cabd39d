"""First SIGINT/SIGTERM drains the sinks; a second one stops at once and keeps the rest in the spool."""

from __future__ import annotations

import signal
import socket
import subprocess
import time

import pytest
from fault_helpers import cli_env, cli_with_fake_models

from ovr_alpr.sinks import Spool


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_second_signal_cuts_the_drain_short_and_keeps_the_spool(tmp_path, clip, sig):
    out = tmp_path / "out"
    args = ["run", "--source", str(clip), "--loop", "-o", str(out), "--drain-timeout", "600",
            "--sink", f"mqtt://127.0.0.1:{_closed_port()}/alpr/x", "--log-level", "WARNING"]  # fmt: skip
    proc = subprocess.Popen(
        cli_with_fake_models(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env(), text=True
    )
    try:
        printed = [proc.stdout.readline() for _ in range(2)]  # two events published (and spooled)
        assert all("plate=" in line for line in printed), printed
        proc.send_signal(sig)
        time.sleep(1.0)
        assert proc.poll() is None, "the first signal drains for up to --drain-timeout"
        t0 = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=150)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
    # without the second signal the drain would wait 600 s; the margin is for a heavily loaded machine
    assert took < 90, f"the second signal took {took:.1f} s to stop the run"
    assert proc.returncode == 5, err
    assert "Traceback" not in err and "stopping now" in err
    assert len([x for x in err.splitlines() if x.startswith("error:")]) == 1
    with Spool(out / "spool" / next(p.name for p in (out / "spool").iterdir())) as spool:
        assert spool.count >= 2
