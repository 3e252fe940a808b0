"""The command line: what it refuses and how it says so, and a real start of `python app.py`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import app

KEY = "nb_" + "s" * 45
APP_PY = Path(app.__file__).resolve()


@pytest.fixture(autouse=True)
def _clean_folder(tmp_path, monkeypatch):
    """Run from an empty folder so no .env file is read, with local data kept in the test's folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))


def _run(capsys, *args: str) -> tuple[int, str]:
    code = app.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("extra", [[], ["--demo"]])  # a read-only demo still spends the balance on chat
def test_share_without_login_is_refused(capsys, extra):
    code, output = _run(capsys, "--share", *extra)
    assert code == app.EXIT_USAGE
    assert "public link without a login" in output and "spend your token balance" in output
    assert "--allow-public-without-login" in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--auth", "ada"], "USER:PASSWORD"),
        (["--auth", ":pw"], "USER:PASSWORD"),
        (["--user", "ada"], "go together"),
        (["--password", "pw"], "go together"),
        (["--auth", "a:b", "--user", "c", "--password", "d"], "not both"),
        (["--port", "0"], "not a port"),
    ],
)
def test_bad_options_are_named(capsys, args, expected):
    code, output = _run(capsys, *args)
    assert code == app.EXIT_USAGE and expected in output


def test_login_forms():
    assert app.login_from(app.parse_args(["--auth", "ada:pa:ss"])) == ("ada", "pa:ss")
    assert app.login_from(app.parse_args(["--user", "ada", "--password", "pw"])) == ("ada", "pw")
    assert app.login_from(app.parse_args([])) is None
    assert app.parse_args([]).host == "127.0.0.1" and app.parse_args([]).port == 7860
    assert app.is_public(app.parse_args(["--host", "0.0.0.0"])) and not app.is_public(app.parse_args([]))


def test_allowed_public_link_prints_the_risk_before_anything_else(capsys, monkeypatch):
    # A base URL without a key stops the start right after the options are accepted: no link is opened.
    monkeypatch.setenv("STUDIO_BASE_URL", "neuralbox")
    code, output = _run(capsys, "--share", "--allow-public-without-login")
    assert (
        "WARNING: this studio is public without a login" in output and "spends your token balance" in output
    )
    assert code == app.EXIT_SETTINGS and "STUDIO_API_KEY" in output


def test_base_url_without_key_is_explained(capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_BASE_URL", "https://example.invalid/api/v2")
    code, output = _run(capsys)
    assert code == app.EXIT_SETTINGS
    assert "No API key" in output and "STUDIO_API_KEY" in output and "Traceback" not in output


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [("STUDIO_READ_TIMEOUT", "-1", "STUDIO_READ_TIMEOUT"), ("STUDIO_ENGINES", "{not json", "engines")],
)
def test_bad_setting_is_named_without_the_key(capsys, monkeypatch, name, value, expected):
    monkeypatch.setenv("STUDIO_API_KEY", KEY)
    monkeypatch.setenv(name, value)
    code, output = _run(capsys)
    assert code == app.EXIT_SETTINGS and expected in output
    assert KEY not in output and "Traceback" not in output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_python_app_py_serves_the_studio(tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "STUDIO_DATA_DIR": str(tmp_path / "data"),
        "STUDIO_ENGINES": json.dumps({"*": "echo"}),
        "STUDIO_ALLOWED_HOSTS": "other.lan",
    }
    process = subprocess.Popen(
        [sys.executable, str(APP_PY), "--port", str(port), "--demo", "--allow-host", "studio.lan"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 120  # a wait for start-up, not an assertion about speed
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{url}config", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        from gradio_client import Client

        status = Client(url, verbose=False).predict(api_name="/status")
        assert (
            status.startswith("**Local server")
            and "answering" in status
            and status.endswith("read-only demo")
        )
        # The names given with --allow-host and STUDIO_ALLOWED_HOSTS are answered; any other is refused.
        for host, expected in (("studio.lan", 200), ("other.lan", 200), ("attacker.example", 403)):
            assert httpx.get(f"{url}config", headers={"Host": host}, timeout=30).status_code == expected, host
        key = (tmp_path / "data" / "api_key").read_text().strip()
        assert key and key not in httpx.get(url, timeout=30).text and key not in status
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=60)
    assert "Assistant Studio talks to Local server" in output and key not in output
