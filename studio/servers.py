"""Which server a record belongs to: the normalised base URL, never the key.

The embedded local server listens on a new free port at each start, so it is named by its data folder
instead: its assistants live there, whatever the port.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def server_key(base_url: str, *, local_data_dir: Path | None = None) -> str:
    """The key the store files records under for this server."""
    if local_data_dir is not None:
        return f"local:{Path(local_data_dir).expanduser().resolve()}"
    parts = urlsplit(base_url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path.rstrip("/"), "", ""))
