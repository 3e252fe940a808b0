"""`python -m backend.server`: the stand-alone server prints its URL and key file, and serves."""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from backend.server.__main__ import DEFAULT_PORT, parse_args
from backend.server.embedded import EmbeddedServer
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def start_server(data: Path, *extra: str) -> subprocess.Popen[str]:
    """`python -m backend.server` on a free port with the echo engine, free of the caller's STUDIO_* settings."""
    command = [
        sys.executable,
        "-m",
        "backend.server",
        "--port",
        "0",
        "--data-dir",
        str(data),
        "--engine",
        "echo",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    return subprocess.Popen(
        [*command, *extra], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_the_stand_alone_server_runs_until_interrupted(tmp_path):
    data = tmp_path / "data"
    process = start_server(data, "--print-key")
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = re.search(r"(http://127\.0\.0\.1:\d+/api/v2)", lines[0]).group(1)
        assert str(data / "api_key") in lines[1]
        key = lines[2].split(":", 1)[1].strip()
        assert key == (data / "api_key").read_text().strip()
        headers = {"Authorization": f"Bearer {key}"}
        for _ in range(200):
            try:
                response = httpx.get(f"{url}/health", headers=headers, timeout=5)
                break
            except httpx.ConnectError:
                process.poll()
                assert process.returncode is None
        assert response.json() == {"status": "ok"}
        answer = httpx.post(
            f"{url}/generate",
            headers=headers,
            json={"model": "gpt-5", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert answer.json()["content"] == "[turn 1] You said: hi"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    assert process.returncode == 0


def test_the_key_is_printed_only_when_asked(tmp_path):
    data = tmp_path / "data"
    process = start_server(data)
    try:
        lines = [process.stdout.readline() for _ in range(3)]
    finally:
        process.send_signal(signal.SIGINT)
        output = "".join(lines) + process.communicate(timeout=30)[0]
    key = (data / "api_key").read_text().strip()
    assert "API key file" in output and key not in output


def test_without_port_the_settings_port_is_used(tmp_path):
    with socket.socket() as probe:  # a port that is free now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_")}
    env["STUDIO_LOCAL_PORT"] = str(port)
    command = [
        sys.executable,
        "-m",
        "backend.server",
        "--data-dir",
        str(tmp_path / "data"),
        "--engine",
        "echo",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        first = process.stdout.readline()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/api/v2" in first


def test_the_default_port_is_kept_when_nothing_is_set():
    assert parse_args([]).port is None and DEFAULT_PORT == 8765


def test_the_embedded_server_leaves_the_hosts_logging_alone(tmp_path):
    marker = logging.NullHandler()
    uvicorn_log = logging.getLogger("uvicorn")
    uvicorn_log.addHandler(marker)
    try:
        with EmbeddedServer(make_settings(tmp_path)):
            pass
        assert marker in uvicorn_log.handlers  # uvicorn's own dictConfig would have replaced it
    finally:
        uvicorn_log.removeHandler(marker)


def test_the_access_log_never_carries_a_key(tmp_path):
    """A caller may put a key where it does not belong; the log shows it blanked, however it was spelt."""
    data = tmp_path / "data"
    process = start_server(data, "--print-key")
    try:
        lines = [process.stdout.readline() for _ in range(4)]
        url = re.search(r"(http://127\.0\.0\.1:\d+/api/v2)", lines[0]).group(1)
        key = lines[2].split(":", 1)[1].strip()
        encoded = "".join(f"%{ord(c):02X}" for c in key)  # every character percent-encoded
        with httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=5) as http:
            for _ in range(200):
                try:
                    http.get(f"{url}/health")
                    break
                except httpx.ConnectError:
                    assert process.poll() is None
            assert http.get(f"{url}/assistants/{key}").status_code == 404
            assert http.get(f"{url}/assistants/{encoded}").status_code == 404
            assert http.get(f"{url}/assistants?api_key={key}").status_code == 200
            assert http.get(f"{url}/assistants?api_key={encoded}&x=1").status_code == 200
            assert httpx.get(f"{url}/balance?key={key[:20]}%{ord(key[20]):02x}{key[21:]}").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]
    log = output  # everything after the four lines of the start, which printed the key on purpose
    assert key not in log and encoded not in log and key[4:] not in log and key[25:] not in log
    assert log.count("nb_***") >= 5 and "GET /api/v2/health" in log
