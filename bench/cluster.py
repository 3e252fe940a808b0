"""The multi-process recipe, run for real: one stand-alone Assistants API server, studio processes (the real
`python app.py`) on one PostgreSQL, and Debian's nginx in front with the site of `deploy/`.

Used by the benchmark bench/bench_processes.py and by the tests under tests/deploy. Every process is
started on free loopback ports in a folder of its own, and stopped on leaving.
"""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import PYTHON, START_TIMEOUT, Child, child, child_env, free_port, wait_until_ok
from deploy.nginx import Nginx, running, site_config

NAME = "studio.test"  # the public name nginx serves the studio as; every studio is given it as --allow-host
_API_LINE = re.compile(r"Assistants API: (http://\S+/api/v2)")


@dataclass
class Api:
    """The one Assistants API server every studio talks to (STUDIO_BASE_URL)."""

    url: str
    key: str


@dataclass
class Studio:
    """One studio process."""

    proc: Child
    port: int

    @property
    def upstream(self) -> str:
        """How nginx names it in `$upstream_addr`."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Proxy:
    """nginx in front of some studios: its address, the Host browsers send, and its access log."""

    nginx: Nginx
    studios: list[Studio]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.nginx.port}"

    @property
    def host(self) -> str:
        """The Host header of a browser that reached nginx as http://studio.test:PORT/."""
        return f"{NAME}:{self.nginx.port}"

    def upstreams_of(self, affinity: str) -> set[str]:
        """The processes nginx sent this browser's requests to, so far."""
        return {line.upstream for line in self.nginx.logged() if line.affinity == affinity}


@contextmanager
def api_server(folder: Path, delay_ms: float = 0.0) -> Iterator[Api]:
    """`assistant-studio-server` on a free port, with the echo engine (and its delay per word)."""
    env = child_env(STUDIO_ECHO_DELAY_MS=str(delay_ms), STUDIO_LOCAL_BALANCE="1000000000")
    args = [PYTHON, "-m", "backend.server", "--port", "0", "--data-dir", str(folder), "--engine", "echo"]
    with child(args, env) as proc:
        url = _announced_url(proc)
        key = (folder / "api_key").read_text(encoding="utf-8").strip()
        _wait_healthy(url, key, proc)
        yield Api(url, key)


def _announced_url(proc: Child) -> str:
    seen = []
    while True:
        line = proc.lines.get(timeout=START_TIMEOUT)
        seen.append(line)
        if match := _API_LINE.search(line):
            return match.group(1)
        if len(seen) > 50:
            raise RuntimeError("the Assistants API server did not say where it listens: " + "\n".join(seen))


def _wait_healthy(url: str, key: str, proc: Child) -> None:
    with httpx.Client(timeout=5.0, headers={"Authorization": f"Bearer {key}"}) as http:
        for _ in range(int(START_TIMEOUT * 10)):
            if proc.process.poll() is not None:
                raise RuntimeError(f"the Assistants API server exited with {proc.process.returncode}")
            try:
                if http.get(f"{url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    raise RuntimeError("the Assistants API server did not answer")


def shared_data_dir(folder: Path) -> Path:
    """The data folder every studio shares, with the browser secret made once beforehand, as the recipe says:
    conversations kept in a browser are encrypted with it, and any process may serve that browser next."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    secret = folder / "browser_secret"
    secret.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    secret.chmod(0o600)
    return folder


@contextmanager
def studios(count: int, *, api: Api, database_url: str, data_dir: Path) -> Iterator[list[Studio]]:
    """`count` studio processes, as the recipe starts them: same API, same database, same data folder."""
    env = child_env(
        STUDIO_BASE_URL=api.url,
        STUDIO_API_KEY=api.key,
        STUDIO_DATABASE_URL=database_url,
        STUDIO_DATA_DIR=str(data_dir),
    )
    with ExitStack() as stack:
        started = []
        for _ in range(count):  # all start at once; each is waited for afterwards
            port = free_port()
            args = [PYTHON, "app.py", "--port", str(port), "--allow-host", NAME]
            started.append(Studio(stack.enter_context(child(args, env)), port))
        for studio in started:
            wait_until_ok(studio.url + "/robots.txt", proc=studio.proc)
        yield started


@contextmanager
def proxy(studios: Sequence[Studio], workers: str = "1") -> Iterator[Proxy]:
    """nginx with the recipe's site, in front of `studios`, on a free loopback port.

    Its folder is made apart from the test's (pytest's are readable by their owner only), since as root
    nginx's workers run as another user."""
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="studio-nginx-"))
    site = site_config(
        name=NAME,
        listen=f"127.0.0.1:{port}",
        processes=[studio.upstream for studio in studios],
        access_log=folder / "studio-access.log",
    )
    try:
        with running(site, folder, port, workers=workers) as nginx:
            yield Proxy(nginx, list(studios))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
