"""nginx in front of several studio processes: the site of `assistant-studio.conf`, adapted, and run.

`python -m deploy.nginx --name studio.example.com --listen 80 --process 127.0.0.1:7861 --process
127.0.0.1:7862` prints the site with those values in place of the example's. `running(site, folder)` runs
nginx in the foreground with a site, in a folder of its own (configuration, logs, pid, temporary files):
to try the recipe on one machine, and for the tests and the benchmark, which run Debian's real nginx.
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).with_name("assistant-studio.conf")
NO_NGINX = (
    "These tests need nginx, and it is not installed: run `apt-get install nginx` (as root, or with sudo), "
    "or run `bash scripts/test.sh`, which installs it."
)
START_SECONDS = 20.0
_PROCESS_LINE = re.compile(r"^([ \t]*)server [^;\s]+;[^\n]*# adapt[^\n]*\n", re.MULTILINE)
# $upstream_addr lists every process nginx tried for the request, "a, b" when the first did not answer.
_LOG_LINE = re.compile(
    r'"(?P<request>[^"]*)" (?P<status>\d+) .* upstream=(?P<upstream>.+?) affinity=(?P<affinity>\S*)$'
)


def _replace_one(text: str, pattern: str, new: str) -> str:
    """Replace the one line of the example that `pattern` finds; a changed example fails loudly here."""
    found, count = re.subn(pattern, new, text, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{EXAMPLE.name} has {count} lines matching {pattern!r}, not one")
    return found


def site_config(
    *, name: str, listen: str, processes: Sequence[str], access_log: str | Path | None = None
) -> str:
    """The example site with the public name, the listening address, the studio processes (host:port)
    and, if given, the access log's path in place of the example's."""
    if not processes:
        raise ValueError("give at least one studio process (host:port)")
    text = EXAMPLE.read_text(encoding="utf-8")
    lines = list(_PROCESS_LINE.finditer(text))
    if not lines:
        raise ValueError(f"{EXAMPLE.name} has no upstream server line marked '# adapt'")
    indent = lines[0].group(1)
    upstream = "".join(f"{indent}server {process};\n" for process in processes)
    text = text[: lines[0].start()] + upstream + text[lines[-1].end() :]
    text = _replace_one(text, r"^(\s*)listen \S+;.*$", rf"\g<1>listen {listen};")
    text = _replace_one(text, r"^(\s*)server_name \S+;.*$", rf"\g<1>server_name {name};")
    if access_log is not None:
        text = _replace_one(text, r"^(\s*)access_log \S+ (\w+);.*$", rf"\g<1>access_log {access_log} \g<2>;")
    return text


def nginx_binary() -> str | None:
    """Debian's nginx (root's PATH has /usr/sbin; a user's often has not)."""
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None


def _worker_user() -> str:
    """As root, nginx runs its workers as another user: Debian's www-data, as its own service does."""
    for user in ("www-data", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return user
    return "root"


def main_config(folder: Path, site: Path, workers: str = "1") -> str:
    """A whole nginx configuration that keeps everything in `folder` and serves `site`."""
    lines = []
    if os.geteuid() == 0:
        lines.append(f"user {_worker_user()};")
    temp = "".join(
        f"    {kind}_temp_path {folder / 'temp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    lines += [
        f"worker_processes {workers};",
        f"pid {folder / 'nginx.pid'};",
        f"error_log {folder / 'error.log'} warn;",
        "events {\n    worker_connections 4096;\n}",
        "http {\n" + temp + f"    access_log {folder / 'access.log'};\n    include {site};\n}}",
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Logged:
    """One line of the site's access log."""

    request: str
    status: int
    upstream: str  # the process that answered: the last one nginx tried
    affinity: str
    tried: tuple[str, ...] = ()  # every process nginx tried, in order

    @property
    def path(self) -> str:
        return self.request.split(" ")[1] if " " in self.request else self.request


@dataclass
class Nginx:
    """A running nginx: where it listens, and its site's access log."""

    process: subprocess.Popen[str]
    port: int
    access_log: Path
    error_log: Path

    def logged(self) -> list[Logged]:
        """Every request logged so far (a request is logged when its answer ends)."""
        if not self.access_log.exists():
            return []
        found = []
        for line in self.access_log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _LOG_LINE.search(line)
            if match:
                tried = tuple(part.strip() for part in match["upstream"].split(","))
                found.append(
                    Logged(match["request"], int(match["status"]), tried[-1], match["affinity"], tried)
                )
        return found


def _wait_listening(process: subprocess.Popen[str], port: int, error_log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            detail = error_log.read_text(errors="replace") if error_log.exists() else ""
            raise RuntimeError(f"nginx did not start (exit {process.returncode}): {output}{detail}".strip())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on port {port} within {START_SECONDS:g} s")


@contextmanager
def running(site: str, folder: Path, port: int, workers: str = "1") -> Iterator[Nginx]:
    """nginx in the foreground serving `site` (which listens on `port`, on loopback), stopped on leaving."""
    binary = nginx_binary()
    if binary is None:
        raise RuntimeError(NO_NGINX)
    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "temp" / kind).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:  # the workers write request bodies into temp/ as their own user
        user = _worker_user()
        for path in [folder, folder / "temp", *(folder / "temp").iterdir()]:
            shutil.chown(path, user)
    (folder / "site.conf").write_text(site, encoding="utf-8")
    (folder / "nginx.conf").write_text(main_config(folder, folder / "site.conf", workers), encoding="utf-8")
    access = re.search(r"^\s*access_log (\S+) \w+;", site, re.MULTILINE)
    process = subprocess.Popen(
        [binary, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_listening(process, port, folder / "error.log")
        yield Nginx(
            process, port, Path(access.group(1)) if access else folder / "access.log", folder / "error.log"
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # fast shutdown: open event streams are closed
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=15)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the example site adapted to the given name, port and processes."""
    parser = argparse.ArgumentParser(prog="python -m deploy.nginx", description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True, help="the name people use, e.g. studio.example.com")
    parser.add_argument("--listen", default="80", help="nginx's port or address:port (default: %(default)s)")
    parser.add_argument(
        "--process", action="append", required=True, metavar="HOST:PORT", help="a studio process (repeat)"
    )
    parser.add_argument("--access-log", help="the access log's path (default: the example's)")
    args = parser.parse_args(argv)
    print(
        site_config(name=args.name, listen=args.listen, processes=args.process, access_log=args.access_log),
        end="",
    )


if __name__ == "__main__":
    main()
