"""`ovr-alpr serve` as a user runs it: a subprocess on a local port, importing a run's JSONL and crops."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from ovr_alpr.cli import main
from service_fixtures import JPEG, free_port, minutes, plate_event, wait_until


def test_serve_imports_a_runs_events_and_serves_them(tmp_path: Path) -> None:
    crop = tmp_path / "demo" / "crops" / "2024-05-01" / "cam0" / "a.jpg"
    crop.parent.mkdir(parents=True)
    crop.write_bytes(JPEG)
    events = [
        plate_event("AB123CD", "cam0", minutes(0), plate_url=str(crop)),
        plate_event("XY999ZZ", "cam0", minutes(1)),
    ]
    jsonl = tmp_path / "demo" / "events.jsonl"
    jsonl.write_text("".join(e.to_json() + "\n" for e in events))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    env.pop("OVR_ALPR_API_TOKEN", None)
    launcher = "import sys; from ovr_alpr.cli import main; sys.exit(main())"
    argv = [sys.executable, "-c", launcher, "serve", "--db", str(tmp_path / "demo" / "events.db")]
    argv += ["--port", str(port), "--import", str(jsonl), "--log-level", "WARNING"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        if not wait_until(lambda: up() or proc.poll() is not None, 90, 0.2) or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"serve did not come up: {proc.communicate(timeout=10)[0][-2000:]}")
        found = httpx.get(f"{url}/api/events", params={"plate": "AB123C0", "match": "fuzzy"}).json()["events"]
        assert [e["plate"]["normalized_text"] for e in found] == ["AB123CD"]
        assert httpx.get(url + found[0]["images"]["plate_url"]).content == JPEG
        assert (
            httpx.post(f"{url}/api/events", json=events[0].to_dict()).status_code == 403
        )  # no token: read-only
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=15)[0]
    assert "imported 2 event(s)" in output


def test_serve_help_and_bad_options(capsys) -> None:
    assert main(["serve", "--help"]) == 0
    assert "--kafka" in capsys.readouterr().out
    assert main(["serve", "--kafka", "nohost", "--db", "x.db"]) == 2
    assert "kafka must be HOST:PORT/TOPIC" in capsys.readouterr().err
