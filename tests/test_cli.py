"""`assistant-studio test`: exit codes, the summary, and JUnit XML, on the echo engine's local server."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import app
from backend.client import AssistantsClient
from backend.server.embedded import EmbeddedServer
from studio import cli
from studio.servers import server_key
from studio.store import StoreHandle, default_url
from tests.conftest import make_settings

APP_PY = Path(app.__file__).resolve()

CSV = """\
question,__expected1,__expected2,__description
Capital of France?,contains: France,regex:^\\[turn 1,capital
What is 2+2?,contains:4,,arithmetic
Say hello,contains: goodbye,,will fail
"""
YAML = """\
prompts: ['Q: {{question}}']
tests:
  - description: one
    vars: {question: alpha}
    assert: [{type: contains, value: 'Q: alpha'}, {type: cost, threshold: 5}]
  - description: two
    vars: {question: beta}
    assert: [{type: icontains, value: BETA}]
"""


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """An empty working folder, local data in the test's folder, the echo engine: as CI would run it."""
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    monkeypatch.setenv("STUDIO_DATA_DIR", str(data))
    monkeypatch.setenv("STUDIO_ENGINES", '{"*": "echo"}')
    return data


@pytest.fixture
def assistant(data_dir) -> str:
    """An assistant on the local server the command will start on the same data folder."""
    with (
        EmbeddedServer(make_settings(data_dir.parent)) as server,
        AssistantsClient(base_url=server.base_url, api_key=server.api_key) as api,
    ):
        return api.assistants.create(name="Geo", model="gpt-5-nano", instructions="").id


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = app.main(["test", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_passing_suite_exits_0_and_writes_junit(capsys, data_dir, assistant, tmp_path):
    suite = write(tmp_path, "smoke.yaml", YAML)
    junit = tmp_path / "reports" / "junit.xml"
    code, out, err = run(capsys, str(suite), "--assistant", assistant, "--junit", str(junit))
    assert code == cli.EXIT_OK, out + err
    assert "current (v1)" in out and "100.0%" in out and "Every case passed." in out
    assert "Pass rate 100.0% meets the threshold of 100.0%." in out
    root = ET.parse(junit).getroot()
    assert (root.tag, root.get("tests"), root.get("failures"), root.get("errors")) == (
        "testsuites",
        "2",
        "0",
        "0",
    )
    [testsuite] = root
    assert testsuite.get("name") == "smoke.yaml · current (v1)"
    assert [c.get("name") for c in testsuite] == ["one", "two"]
    assert testsuite[0].find("system-out").text == "[turn 1] You said: Q: alpha"


def test_a_junit_path_that_cannot_be_written_is_named_with_the_way_out(capsys, data_dir, assistant, tmp_path):
    suite = write(tmp_path, "smoke.yaml", YAML)
    blocked = write(tmp_path, "a-file", "where a folder should be") / "junit.xml"
    code, out, err = run(capsys, str(suite), "--assistant", assistant, "--junit", str(blocked))
    assert code == cli.EXIT_USAGE
    assert f"cannot write the JUnit report to {blocked}" in err and "--junit a path in a folder" in err
    assert "Traceback" not in err


def test_failures_below_the_threshold_exit_1_with_reasons_in_junit(capsys, data_dir, assistant, tmp_path):
    suite = write(tmp_path, "tests.csv", CSV)
    junit = tmp_path / "junit.xml"
    args = [str(suite), "--assistant", assistant, "--prompt", "{{question}}", "--junit", str(junit)]
    code, out, _ = run(capsys, *args)
    assert code == cli.EXIT_BELOW
    assert "FAIL will fail (target 1)" in out and "does not contain “goodbye”" in out
    assert "Pass rate 33.3% is below the threshold of 100.0%." in out
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    assert cases["capital"].find("failure") is None
    failure = cases["will fail"].find("failure")
    assert failure is not None and failure.get("message").startswith("The answer does not contain “goodbye”")
    assert "[fail] contains “goodbye”" in failure.text
    assert cases["arithmetic"].find("failure") is not None  # the echo repeats "What is 2+2?": no 4 in it

    code, out, _ = run(capsys, *args, "--min-pass-rate", "0.3")
    assert code == cli.EXIT_OK and "meets the threshold of 30.0%" in out


def test_versions_and_labels_come_from_the_studios_history(capsys, data_dir, assistant, tmp_path):
    suite = write(tmp_path, "smoke.yaml", YAML)
    code, _, err = run(capsys, str(suite), "--assistant", assistant, "--version", "4")
    assert code == cli.EXIT_USAGE and "There is no version 4 of this assistant: pick one from 1 to 1." in err
    store = StoreHandle(default_url(data_dir))
    store.get().history.set_label(server_key("", local_data_dir=data_dir), assistant, "production", 1)
    store.close()
    code, out, _ = run(capsys, str(suite), "--assistant", assistant, "--label", "production", "--repeat", "2")
    assert code == cli.EXIT_OK and "production (v1)" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml", "--assistant", "x"], "cannot read missing.yaml"),
        (["bad.yaml", "--assistant", "x"], "bad.yaml: Line 2: each test must be a mapping"),
        (["tests.csv", "--assistant", "ASSISTANT"], "the suite's prompt, and it is empty"),
        (["smoke.yaml", "--assistant", "asst_nobody"], "there is no assistant asst_nobody"),
        (["smoke.yaml", "--assistant", "ASSISTANT", "--min-pass-rate", "3"], "is a share from 0 to 1"),
        (["smoke.yaml", "--assistant", "ASSISTANT", "--concurrency", "0"], "Run 1 to 32 calls at once"),
        (["smoke.yaml", "--assistant", "ASSISTANT", "--version", "1", "--label", "x"], "not allowed with"),
        (["smoke.yaml"], "the following arguments are required: --assistant"),
    ],
)
def test_usage_errors_exit_2_and_say_what_to_change(capsys, data_dir, assistant, tmp_path, args, message):
    write(tmp_path, "smoke.yaml", YAML)
    write(tmp_path, "tests.csv", CSV)
    write(tmp_path, "bad.yaml", "tests:\n  - 12\n")
    code, out, err = run(capsys, *[assistant if a == "ASSISTANT" else a for a in args])
    assert code == cli.EXIT_USAGE and message in err, out + err
    assert "Traceback" not in err


def test_an_unreachable_server_exits_3(capsys, data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_BASE_URL", "http://127.0.0.1:1/api/v2")
    monkeypatch.setenv("STUDIO_API_KEY", "nb_" + "k" * 45)
    monkeypatch.setenv("STUDIO_MAX_RETRIES", "0")
    code, _, err = run(capsys, str(write(tmp_path, "smoke.yaml", YAML)), "--assistant", "asst_1")
    assert code == cli.EXIT_SERVER and "cannot be used" in err and "k" * 45 not in err
    monkeypatch.delenv("STUDIO_API_KEY")
    code, _, err = run(capsys, str(write(tmp_path, "smoke.yaml", YAML)), "--assistant", "asst_1")
    assert code == cli.EXIT_SERVER and "STUDIO_API_KEY" in err


def test_the_installed_command_runs_as_ci_would(data_dir, assistant, tmp_path):
    suite = write(tmp_path, "smoke.yaml", YAML)
    env = {**os.environ, "PYTHONPATH": str(APP_PY.parent)}
    done = subprocess.run(
        [sys.executable, str(APP_PY), "test", str(suite), "--assistant", assistant, "--junit", "out.xml"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "out.xml").exists() and "Pass rate 100.0%" in done.stdout
