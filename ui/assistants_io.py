"""Assistants as data: the table, checking the four fields, export and import files, friendly times."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from backend.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX, NAME_MAX, Assistant, ModelInfo, utc_now
from ui.theme import escape_md

EXPORT_FORMAT = "assistant-studio/assistants"
EXPORT_VERSION = 1
FIELDS = ("name", "model", "instructions", "description")
LABELS = {"name": "Name", "model": "Model", "instructions": "Instructions", "description": "Description"}
IMPORT_MAX_BYTES = 5_000_000  # far above any real export; stops a wrong file from filling memory
IMPORT_MAX_ITEMS = 1_000
COLUMNS = ["Name", "Model", "Description", "Last update", "ID"]
EMPTY_TEXT = "No assistants yet — start from a template or the marketplace."
_LIMITS = {"name": NAME_MAX, "instructions": INSTRUCTIONS_MAX, "description": DESCRIPTION_MAX}


class ImportFileError(ValueError):
    """The file as a whole cannot be read as assistants; the message says why and what to do."""


class ListResult(NamedTuple):
    table: pd.DataFrame
    notice: str


def model_label(model: ModelInfo) -> str:
    """A model as the dropdown shows it, with its price: "gpt-5-nano · 1 token/request"."""
    unit = "token" if model.token_cost == 1 else "tokens"
    return f"{model.slug} · {model.token_cost} {unit}/request"


def model_choices(models: list[ModelInfo]) -> list[tuple[str, str]]:
    """Dropdown choices as (label, slug)."""
    return [(model_label(model), model.slug) for model in models]


def check_fields(
    name: Any, model: Any, instructions: Any, description: Any, known_models: set[str] | None
) -> dict[str, str]:
    """Problems per field, with the same limits as the server, so a person learns before a round trip."""
    values = {"name": name, "model": model, "instructions": instructions, "description": description}
    problems: dict[str, str] = {}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            problems[key] = f"{LABELS[key]} must be text, not {type(value).__name__}."
    if "name" not in problems and not (name or "").strip():
        problems["name"] = "Name is required: give the assistant a short name."
    if "model" not in problems:
        if not (model or "").strip():
            problems["model"] = "Model is required: pick a model from the list."
        elif known_models is not None and model not in known_models:
            problems["model"] = f"Model “{model}” is not one this server offers: pick one from the list."
    for key, limit in _LIMITS.items():
        value = values[key]
        if (
            key not in problems
            and isinstance(value, str)
            and len(value.strip() if key == "name" else value) > limit
        ):
            problems[key] = f"{LABELS[key]} is {len(value):,} characters; the limit is {limit:,}. Shorten it."
    return problems


def to_field_errors(server_errors: dict[str, str]) -> dict[str, str]:
    """The server's per-field problems keyed by our four fields; anything else is kept under its own key."""
    errors: dict[str, str] = {}
    for key, problem in server_errors.items():
        leaf = key.split(".")[-1]
        errors[leaf if leaf in FIELDS else key] = problem
    return errors


def export_document(assistants: list[Assistant], *, now: str | None = None) -> dict[str, Any]:
    """The export file's content: the four fields of each assistant, no ids, no key."""
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "exported_at": now or utc_now(),
        "assistants": [{key: getattr(a, key) or "" for key in FIELDS} for a in assistants],
    }


def write_export(assistants: list[Assistant], stem: str = "assistants") -> Path:
    """Write an export file to a fresh temporary folder, named so downloads do not overwrite each other."""
    folder = Path(tempfile.mkdtemp(prefix="assistant-studio-export-"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stem}-{stamp}.json"
    path.write_text(json.dumps(export_document(assistants), indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def read_import_items(path: str | Path) -> list[Any]:
    """The items of an import file: an export document or a bare list of assistant objects."""
    file = Path(path)
    try:
        size = file.stat().st_size
    except OSError as err:
        raise ImportFileError(f"The file could not be read ({err.strerror}). Upload it again.") from err
    if size > IMPORT_MAX_BYTES:
        raise ImportFileError(
            f"The file is {size / 1_000_000:.1f} MB; an assistants file is at most "
            f"{IMPORT_MAX_BYTES // 1_000_000} MB. Check that you picked the right file."
        )
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ImportFileError(
            "The file is not text. Pick a .json file exported by Assistant Studio."
        ) from err
    except json.JSONDecodeError as err:
        raise ImportFileError(
            f"The file is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}). "
            "Pick a .json file exported by Assistant Studio, or fix the file."
        ) from err
    if isinstance(data, dict):
        if data.get("format") not in (None, EXPORT_FORMAT):
            raise ImportFileError(
                f"The file's format is “{data.get('format')}”, not “{EXPORT_FORMAT}”. "
                "Pick a file exported by Assistant Studio."
            )
        data = data.get("assistants")
    if not isinstance(data, list):
        raise ImportFileError(
            'Expected a list of assistants, or an export with an "assistants" list. '
            "Pick a file exported by Assistant Studio."
        )
    if len(data) > IMPORT_MAX_ITEMS:
        raise ImportFileError(
            f"The file holds {len(data):,} assistants; import at most {IMPORT_MAX_ITEMS:,} at a time."
        )
    return data


def check_import_item(item: Any, known_models: set[str]) -> tuple[dict[str, str], str]:
    """Validate one imported item: (its four fields, the reason it is refused or "")."""
    if not isinstance(item, dict):
        return {}, f"not an assistant object (found {type(item).__name__})."
    fields = {key: item.get(key, "") if key in item else None for key in FIELDS}
    problems = check_fields(
        fields["name"],
        fields["model"],
        fields["instructions"] or "",
        fields["description"] or "",
        known_models,
    )
    clean = {key: value if isinstance(value, str) else "" for key, value in fields.items()}
    return clean, " ".join(problems.values())


@dataclass
class ImportReport:
    """What an import did, one row per item in file order."""

    rows: list[dict[str, str]] = field(default_factory=list)

    def add(self, number: int, name: str, outcome: str, detail: str) -> None:
        self.rows.append({"#": str(number), "name": name, "result": outcome, "detail": detail})

    def count(self, outcome: str) -> int:
        return sum(row["result"] == outcome for row in self.rows)

    def summary(self) -> str:
        """What happened, for the person who imported."""
        if not self.rows:
            return "The file holds no assistants: nothing to import."
        text = f"Created {self.count('created')} of {len(self.rows)} assistants."
        if skipped := self.count("skipped"):
            text += f" Skipped {skipped} identical to ones you already have."
        if refused := self.count("refused"):
            text += f" Refused {refused}: see the report for why, fix them in the file and import it again."
        return text


def identity(fields: dict[str, str]) -> tuple[str, ...]:
    """What makes two assistants the same, so importing a file twice does not duplicate it."""
    return (fields["name"].strip(), fields["model"], fields["instructions"], fields["description"])


def humanize_time(value: str | None, now: datetime | None = None) -> str:
    """An ISO time as a person says it: "just now", "5 minutes ago", "yesterday", "3 Mar 2025"."""
    if not value:
        return ""
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    seconds = ((now or datetime.now(UTC)) - when).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        minutes = int(seconds // 60)
        return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
    if seconds < 86_400:
        hours = int(seconds // 3600)
        return f"{hours} hour{'s' if hours != 1 else ''} ago"
    if seconds < 2 * 86_400:
        return "yesterday"
    if seconds < 7 * 86_400:
        return f"{int(seconds // 86_400)} days ago"
    return f"{when.day} {when:%b %Y}"


def assistants_table(assistants: list[Assistant], query: str = "", now: datetime | None = None) -> ListResult:
    """The table rows matching the search (name, description or model; any case), newest first."""
    words = (query or "").strip().lower()
    shown = [a for a in assistants if not words or words in f"{a.name}\n{a.description}\n{a.model}".lower()]
    shown.sort(key=lambda a: a.updated_at or a.created_at or "", reverse=True)
    rows = [
        [a.name, a.model, a.description, humanize_time(a.updated_at or a.created_at, now), a.id]
        for a in shown
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    if not assistants:
        return ListResult(table, EMPTY_TEXT)
    if not shown:
        return ListResult(
            table,
            f"No assistants match “{escape_md(query.strip())}”. Clear the search to see all {len(assistants)}.",
        )
    count = f"{len(assistants)} assistant{'s' if len(assistants) != 1 else ''}"
    return ListResult(table, count if len(shown) == len(assistants) else f"Showing {len(shown)} of {count}.")
