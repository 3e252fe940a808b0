"""Open the studio's connection: to the embedded local server, or to a real one named in the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import SecretStr

from backend.client import AssistantsClient, AsyncAssistantsClient
from backend.settings import Settings, describe_server

if TYPE_CHECKING:  # the server pulls in FastAPI and uvicorn: imported only when it is started
    from backend.server.embedded import EmbeddedServer


@dataclass
class Connection:
    """A client, the embedded server behind it (if any), and the server's name for a person."""

    client: AsyncAssistantsClient
    server: EmbeddedServer | None
    label: str
    base_url: str
    settings: Settings | None = field(default=None, repr=False)
    api_key: SecretStr | None = field(default=None, repr=False)

    def sync_client(self) -> AssistantsClient:
        """A new synchronous client to the same server with the same key; the caller closes it."""
        settings = self.settings or Settings(_env_file=None)
        return AssistantsClient.from_settings(settings, base_url=self.base_url, api_key=self.api_key)

    def close(self) -> None:
        """Stop the embedded server, if this connection started one."""
        server, self.server = self.server, None
        if server is not None:
            server.stop()

    async def aclose(self) -> None:
        """Close the client's connections, then stop the embedded server."""
        await self.client.close()
        self.close()


def open_connection(settings: Settings) -> Connection:
    """Start the embedded server when no base URL is set; otherwise connect to the one named."""
    if settings.base_url is not None:
        if settings.api_key is None or not settings.api_key.get_secret_value().strip():
            raise ValueError(
                f"No API key for {describe_server(settings.base_url)}: set STUDIO_API_KEY "
                "(in your .env file or the environment) to your nb_... key."
            )
        client = AsyncAssistantsClient.from_settings(settings)
        return Connection(
            client, None, describe_server(settings.base_url), client.base_url, settings, settings.api_key
        )

    from backend.server.embedded import EmbeddedServer

    server = EmbeddedServer(settings)
    server.start()
    try:
        key = SecretStr(server.api_key) if isinstance(server.api_key, str) else server.api_key
        client = AsyncAssistantsClient.from_settings(settings, base_url=server.base_url, api_key=key)
    except BaseException:
        server.stop()
        raise
    return Connection(client, server, describe_server(server.base_url), server.base_url, settings, key)
