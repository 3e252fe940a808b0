"""scripts/build_progress.sh: the first set-up shows the compilation's progress, read from `pip install -v`.

The lines below have the shapes pip -v prints while scikit-build-core builds llama-cpp-python: two spaces
of pip's indentation, then scikit-build-core's phases or one Ninja line per step, each the whole command
(llama-cpp-python builds verbosely). CMake's `[ 12%]` lines appear only where Ninja is missing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_progress.sh"


def progress(lines: list[str]) -> list[str]:
    done = subprocess.run(
        ["bash", str(SCRIPT)], input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_ninja_steps_show_as_a_line_per_percent():
    command = "/usr/bin/g++ -DGGML_BUILD -O3 -Wall -c vendor/llama.cpp/src/llama.cpp -o llama.cpp.o"
    lines = [
        "Collecting llama-cpp-python>=0.3.7",
        "  *** scikit-build-core 1.1.2 using CMake 3.25.1 (wheel)",
        "  -- The C compiler identification is GNU 12.2.0",
        "  *** Building project with Ninja...",
        *(f"  [{step}/193] {command}" for step in range(1, 194)),
        "  In file included from vendor/llama.cpp/src/llama.cpp:1: warning: unused variable",
        "  *** Making wheel...",
        "Successfully installed llama-cpp-python-0.3.36",
    ]
    shown = progress(lines)
    assert shown[:3] == [
        "  *** scikit-build-core 1.1.2 using CMake 3.25.1 (wheel)",
        "  *** Building project with Ninja...",
        "  compiling:   0% (step 1 of 193)",
    ]
    percents = [line for line in shown if line.startswith("  compiling:")]
    assert len(percents) == 101 and percents[-1] == "  compiling: 100% (step 193 of 193)"
    assert shown[-2:] == ["  *** Making wheel...", "  Successfully installed llama-cpp-python-0.3.36"]
    assert not any("g++" in line or "warning" in line for line in shown)


def test_cmake_percentages_and_errors_are_shown_too():
    shown = progress(
        [
            "  [  1%] Building C object ggml.c.o",
            "  [  1%] Building C object ggml-alloc.c.o",
            "  [ 50%] Linking CXX shared library libllama.so",
            "  src/llama.cpp:10:5: error: expected ';' before '}' token",
            "ERROR: Failed building wheel for llama-cpp-python",
        ]
    )
    assert shown == [
        "  compiling:   1%",
        "  compiling:  50%",
        "  src/llama.cpp:10:5: error: expected ';' before '}' token",
        "  ERROR: Failed building wheel for llama-cpp-python",
    ]
