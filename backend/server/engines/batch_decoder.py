"""Several answers from one llama.cpp context at once: each its own sequence, all decoded in one batch.

One thread owns the context. Each step it drops the sequences whose caller left, admits waiting ones
(into the free sequence whose cache shares the longest start with the new prompt, so a conversation's
next turn only evaluates what is new), puts the next token of every running sequence and a chunk of any
prompt still being read into one ``llama_batch``, calls ``llama_decode`` once, and samples each
sequence's next token with its own sampler. A caller reads its sequence's text as it comes; the decode
thread never waits for a caller.

Only llama-cpp-python's low-level API is used: ``llama_batch`` with a sequence id per token, per-sequence
KV cache removal (``LlamaContext.kv_cache_seq_rm``, which maps to ``llama_memory_seq_rm`` or the older
``llama_kv_self_seq_rm`` for the installed version) and one sampler chain per sequence.
"""

from __future__ import annotations

import codecs
import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from backend.server.engines.llama_threads import ThreadTuner

log = logging.getLogger(__name__)

# llama.cpp's defaults for chat completions (llama-cpp-python's create_chat_completion), so that a
# temperature above 0 samples as it did before answers were batched.
TOP_K, TOP_P, MIN_P, TYPICAL_P = 40, 0.95, 0.05, 1.0

# Tokens per decode step. Reading a prompt in bigger steps was no faster per token here (SmolLM2's Q4_1
# weights have no batched kernel on the CPU), and running answers get no token while a step reads, so
# a step holds at most this many: a long prompt delays the others by one short step at a time.
STEP_TOKENS = 128

FinishReason = Literal["stop", "length"]
_END = None  # an end-of-generation token's entry in the table of pieces


class DecodeError(RuntimeError):
    """llama.cpp could not decode a batch, or the decoder was closed while the sequence ran."""


@dataclass
class Chunk:
    """Text a caller has not read yet, and how many tokens it holds."""

    text: str
    tokens: int


class Sequence:
    """One answer being decoded: its prompt, the text not yet read, and how it ended."""

    def __init__(self, prompt: list[int], max_tokens: int, temperature: float) -> None:
        if not prompt:
            raise ValueError("A sequence needs at least one prompt token.")
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.generated = 0  # tokens sampled, the end-of-generation token excepted
        self.finish: FinishReason | None = None
        self.error: DecodeError | None = None
        self.reused = 0  # prompt tokens found already in the cache, not evaluated again
        self._unread: list[str] = []
        self._unread_tokens = 0
        self._released = False
        self._cond = threading.Condition()

    @property
    def done(self) -> bool:
        return self.finish is not None or self.error is not None

    @property
    def released(self) -> bool:
        return self._released

    def read(self) -> Chunk | None:
        """All the text produced since the last read, waiting for some; None once ended or released.

        Raises DecodeError when decoding failed.
        """
        with self._cond:
            while not self._unread and not self.done and not self._released:
                self._cond.wait()
            if self._released:
                return None
            if self._unread or self._unread_tokens:
                chunk = Chunk("".join(self._unread), self._unread_tokens)
                self._unread.clear()
                self._unread_tokens = 0
                return chunk
            if self.error is not None:
                raise self.error
            return None

    def release(self) -> None:
        """The caller is done with it (finished, stopped or gone): its sequence is freed at the next step."""
        with self._cond:
            self._released = True
            self._cond.notify_all()

    # --- Called by the decode thread -------------------------------------------------------------------

    def _push(self, text: str, tokens: int = 1) -> None:
        with self._cond:
            self._unread_tokens += tokens
            if text:
                self._unread.append(text)
                self._cond.notify_all()

    def _end(self, finish: FinishReason | None = None, error: DecodeError | None = None) -> None:
        with self._cond:
            self.finish, self.error = finish, error
            self._cond.notify_all()


@dataclass
class _Slot:
    """A sequence id of the context, and the tokens its part of the KV cache holds."""

    seq_id: int
    cached: list[int] = field(default_factory=list)
    last_used: float = 0.0
    running: _Running | None = None


@dataclass
class _Running:
    """A sequence admitted to a slot: how much of its prompt is evaluated, the token to feed next."""

    seq: Sequence
    slot: _Slot
    sampler: Any  # llama_cpp._internals.LlamaSampler
    utf8: codecs.IncrementalDecoder
    fed: int  # prompt tokens already in the cache
    pending: int | None = None  # the last sampled token, evaluated at the next step


class BatchDecoder:
    """Decodes up to `slots` sequences together in one llama.cpp context, on a thread of its own."""

    def __init__(
        self,
        model: Any,
        *,
        n_ctx: int,
        slots: int,
        n_threads: int,
        n_threads_batch: int,
        n_batch: int = STEP_TOKENS,
        flash_attention: bool = False,
        tuners: dict[str, ThreadTuner] | None = None,
    ) -> None:
        import llama_cpp
        from llama_cpp import _internals

        self._llama = llama_cpp
        self._internals = _internals
        self.model = model  # llama_cpp._internals.LlamaModel
        self.slots = slots
        self.n_ctx = n_ctx  # per sequence
        self.n_batch = n_batch
        params = llama_cpp.llama_context_default_params()
        # Each sequence gets a whole window of its own (n_ctx tokens); a split cache also attends
        # only over a sequence's own cells, which is faster than one cache shared by unrelated prompts.
        params.n_ctx = n_ctx * slots
        params.n_seq_max = slots
        params.n_batch = params.n_ubatch = n_batch
        params.n_threads, params.n_threads_batch = n_threads, n_threads_batch
        # Flash attention off, as llama-cpp-python's Llama has it: with it SmolLM2 decoded about 14% fewer
        # tokens per CPU-second here, and answers at temperature 0 would differ from the library's.
        if hasattr(params, "flash_attn_type"):
            params.flash_attn_type = 1 if flash_attention else 0
        else:  # older llama-cpp-python
            params.flash_attn = flash_attention
        if hasattr(params, "kv_unified"):
            params.kv_unified = False
        self._context = _internals.LlamaContext(model=model, params=params, verbose=False)
        self.n_threads, self.n_threads_batch = n_threads, n_threads_batch
        # "one": steps of a single token (llama.cpp's n_threads); "batch": several (n_threads_batch).
        self.tuners = tuners or {}
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._rows = [self._batch.seq_id[i] for i in range(n_batch)]
        self._slots = [_Slot(seq_id) for seq_id in range(slots)]
        self._running: list[_Running] = []
        self._waiting: deque[Sequence] = deque()
        self._cond = threading.Condition()
        self._piece_buffer = ctypes.create_string_buffer(64)
        self._pieces: dict[int, bytes | None] = {}  # token -> its text's bytes, _END for end-of-generation
        self._closing = False  # no new sequences
        self._stopping = False  # the decode thread ends at its next step
        self._thread: threading.Thread | None = None
        self.steps = 0  # decode calls so far, for tests and benchmarks

    # --- The callers' side ---------------------------------------------------------------------------

    def submit(self, seq: Sequence) -> Sequence:
        """Queue `seq` for the next step; its text then comes through ``seq.read()``."""
        if len(seq.prompt) + seq.max_tokens > self.n_ctx:
            raise ValueError(
                f"{len(seq.prompt)} prompt tokens and {seq.max_tokens} more do not fit {self.n_ctx}."
            )
        with self._cond:
            if self._closing:
                raise DecodeError("The local model is shutting down.")
            self._waiting.append(seq)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="llama-decode", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return seq

    def stream(self, seq: Sequence) -> Iterator[Chunk]:
        """Submit `seq` and yield its text as it comes, releasing it however the reading ends."""
        self.submit(seq)
        try:
            while (chunk := seq.read()) is not None:
                yield chunk
        finally:
            self.wake_release(seq)

    def wake_release(self, seq: Sequence) -> None:
        """Release `seq` and wake the decode thread so its slot is freed now, not after a wait."""
        seq.release()
        with self._cond:
            self._cond.notify_all()

    def set_threads(self, n_threads: int, n_threads_batch: int) -> None:
        """Threads for one token at a time and for several (llama.cpp picks by the batch's size)."""
        self._llama.llama_set_n_threads(self._context.ctx, n_threads, n_threads_batch)
        self.n_threads, self.n_threads_batch = n_threads, n_threads_batch

    def close(self, wait: float = 0.0) -> None:
        """Stop taking sequences, let running ones end for up to `wait` seconds, then free the context."""
        deadline = time.monotonic() + wait
        with self._cond:
            self._closing = True
            while (self._running or self._waiting) and self._thread is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        self._fail_all(DecodeError("The local model was shut down before the answer ended."))
        if self._batch is not None:
            self._llama.llama_batch_free(self._batch)
            self._batch = None
        self._context.close()

    # --- The decode thread ---------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._drop_released()
                while not self._stopping and not self._running and not self._waiting:
                    self._cond.wait()
                    self._drop_released()
                if self._stopping:
                    return
                self._admit()
            try:
                if self._running:
                    self._step()
            except DecodeError as exc:
                log.error("llama.cpp failed to decode a batch: %s", exc)
                self._fail_all(exc)
            finally:
                with self._cond:
                    self._cond.notify_all()  # close() may be waiting for the running sequences to end

    def _drop_released(self) -> None:
        # Called with the lock held, before admitting, so a slot a caller gave up is free for the next.
        for running in [r for r in self._running if r.seq.released]:
            self._retire(running)

    def _admit(self) -> None:
        while self._waiting:
            free = [slot for slot in self._slots if slot.running is None]
            if not free:
                return
            seq = self._waiting.popleft()
            if seq.released:
                continue
            slot = max(free, key=lambda s: (_common_prefix(s.cached, seq.prompt), -s.last_used))
            keep = min(_common_prefix(slot.cached, seq.prompt), len(seq.prompt) - 1)
            # The last prompt token is always evaluated again: its logits give the first answer token.
            if keep == 0 or not self._context.kv_cache_seq_rm(slot.seq_id, keep, -1):
                self._context.kv_cache_seq_rm(slot.seq_id, -1, -1)
                keep = 0
            slot.cached = slot.cached[:keep]
            seq.reused = keep
            running = _Running(seq, slot, self._sampler(seq.temperature), _utf8(), fed=keep)
            slot.running = running
            self._running.append(running)

    def _sampler(self, temperature: float) -> Any:
        sampler = self._internals.LlamaSampler()
        if temperature <= 0:
            sampler.add_greedy()
        else:
            sampler.add_top_k(TOP_K)
            sampler.add_typical(TYPICAL_P, 1)
            sampler.add_top_p(TOP_P, 1)
            sampler.add_min_p(MIN_P, 1)
            sampler.add_temp(temperature)
            sampler.add_dist(self._llama.LLAMA_DEFAULT_SEED)
        return sampler

    def _step(self) -> None:
        """One llama_decode: every running answer's next token, then a chunk of the oldest unread prompt.

        Prompts are read one at a time in arrival order, so the first to arrive gets its first token as
        soon as it would alone, and each later one as soon as those before it have been read.
        """
        batch, rows = self._batch, self._rows
        outputs: list[tuple[int, _Running]] = []
        n = 0
        for running in self._running:
            if running.pending is not None:
                pos = len(running.slot.cached)
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = running.pending, pos, 1
                rows[n][0], batch.logits[n] = running.slot.seq_id, 1
                running.slot.cached.append(running.pending)
                running.pending = None
                outputs.append((n, running))
                n += 1
        reading = next((r for r in self._running if r.fed < len(r.seq.prompt)), None)
        if reading is not None:
            prompt, seq_id = reading.seq.prompt, reading.slot.seq_id
            chunk = prompt[reading.fed : reading.fed + self.n_batch - n]
            for pos, token in enumerate(chunk, start=reading.fed):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, pos, 1
                rows[n][0], batch.logits[n] = seq_id, 0
                n += 1
            reading.fed += len(chunk)
            reading.slot.cached.extend(chunk)
            if reading.fed == len(prompt):
                batch.logits[n - 1] = 1
                outputs.append((n - 1, reading))
        batch.n_tokens = n
        # Steps that read a prompt vary too much in cost to compare thread counts by.
        kind = "one" if n == 1 else "batch"
        tuner = self.tuners.get(kind) if reading is None else None
        if tuner is not None:
            threads = tuner.next_threads()
            if kind == "one" and threads != self.n_threads:
                self.set_threads(threads, self.n_threads_batch)
            elif kind == "batch" and threads != self.n_threads_batch:
                self.set_threads(self.n_threads, threads)
        started = time.perf_counter()
        code = self._llama.llama_decode(self._context.ctx, batch)
        if tuner is not None:
            tuner.record(threads, (time.perf_counter() - started) / n)
        self.steps += 1
        if code != 0:
            raise DecodeError(f"llama_decode returned {code}")
        for index, running in outputs:
            seq = running.seq
            token = self._llama.llama_sampler_sample(running.sampler.sampler, self._context.ctx, index)
            if seq.released:
                continue
            piece = self._pieces[token] if token in self._pieces else self._piece(token)
            if piece is _END:
                self._finish(running, "stop")
                continue
            seq.generated += 1
            seq._push(running.utf8.decode(piece))
            if seq.generated >= seq.max_tokens:
                self._finish(running, "length")
            else:
                running.pending = token

    def _piece(self, token: int) -> bytes | None:
        """The token's bytes, or _END for an end-of-generation token; remembered, as every foreign call
        gives up the GIL and may wait to get it back from the server's threads."""
        if self._llama.llama_vocab_is_eog(self.model.vocab, token):
            piece = _END
        else:
            buffer = self._piece_buffer
            n = self._llama.llama_token_to_piece(self.model.vocab, token, buffer, len(buffer), 0, False)
            if n < 0:  # a longer piece than the buffer: grow it once and ask again
                self._piece_buffer = buffer = ctypes.create_string_buffer(-n)
                n = self._llama.llama_token_to_piece(self.model.vocab, token, buffer, len(buffer), 0, False)
            piece = buffer.raw[:n]
        self._pieces[token] = piece
        return piece

    def _finish(self, running: _Running, finish: FinishReason) -> None:
        tail = running.utf8.decode(b"", final=True)
        if tail:
            running.seq._push(tail, tokens=0)  # the bytes of tokens already counted
        with self._cond:
            self._retire(running)
        running.seq._end(finish)

    def _retire(self, running: _Running) -> None:
        # Called with the lock held. The cache keeps what the sequence read, for the next prompt that
        # starts the same way (the next turn of the same conversation, or a retry).
        running.sampler.close()
        running.slot.running = None
        running.slot.last_used = time.monotonic()
        self._running.remove(running)

    def _fail_all(self, error: DecodeError) -> None:
        with self._cond:
            for running in list(self._running):
                self._retire(running)
                self._context.kv_cache_seq_rm(running.slot.seq_id, -1, -1)
                running.slot.cached = []
                running.seq._end(error=error)
            for seq in self._waiting:
                seq._end(error=error)
            self._waiting.clear()
            self._cond.notify_all()


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _utf8() -> codecs.IncrementalDecoder:
    # A character split across tokens comes out whole, with the token that completes it.
    return codecs.getincrementaldecoder("utf-8")(errors="replace")
