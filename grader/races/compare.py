"""Both sides of a race: each framework's reference timed in a fresh interpreter
(grader/races/runner.py), then set side by side as ratios and a table."""

import difflib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from grader.races import adapters

RACE_TIMEOUT_S = 600
FRAMEWORKS = ("torch", "jax")


class NoRace(Exception):
    """The topic cannot race here (unknown, no adapter, a reference or the device missing)."""


class RaceFailed(Exception):
    """A reference failed or hung while it was timed: the bank's fault."""


def check_topic(bank, topic):
    """NoRace unless TOPIC has a race adapter and a torch and a jax reference."""
    if topic in {item.topic for item in bank.items.values()} - set(adapters()):
        raise NoRace(f"There is no race for {topic} yet. Topics with a race: "
                     f"{', '.join(adapters())}.")
    if topic not in adapters():
        close = difflib.get_close_matches(topic.lower(), adapters(), n=2, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise NoRace(f"There is no topic {topic!r} with a race.{hint} Topics with a race: "
                     f"{', '.join(adapters())}.")
    for framework in FRAMEWORKS:
        if not bank.solution_file(f"{topic}_{framework}").is_file():
            raise NoRace(f"{topic} has no {framework} reference in this bank "
                         f"(solutions/{topic}_{framework}/), so it cannot race.")


def default_steps(topic):
    import importlib

    return importlib.import_module(f"grader.races.{topic}").STEPS


def run_side(bank, topic, framework, device, steps):
    """One framework's times, from a fresh interpreter with the workers' environment."""
    from grader.workers import worker_environment

    reference = bank.solution_file(f"{topic}_{framework}")
    package_root = str(Path(__file__).resolve().parent.parent.parent)
    command = [sys.executable, "-s", "-m", "grader.races.runner", topic, framework, device,
               str(reference), str(steps)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=RACE_TIMEOUT_S,
                              env=worker_environment(device, package_root), check=False)
    except subprocess.TimeoutExpired:
        raise RaceFailed(f"the {framework} race did not finish in {RACE_TIMEOUT_S} s") from None
    try:
        side = json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        raise RaceFailed(f"the {framework} reference failed its race:\n{tail}") from None
    if side.get("no_device"):
        raise NoRace(side["error"])
    return side


def ratios(sides):
    """torch time / jax time per column: above 1, jax was faster."""
    torch_side, jax_side = sides["torch"], sides["jax"]
    return {key: round(torch_side[key] / jax_side[key], 2)
            for key in ("setup_s", "first_step_s", "step_ms", "total_s") if jax_side.get(key)}


def table(topic, sides):
    rows = [("", "import s", "setup s", "first step s", "per step ms", "steps", "total s")]
    for framework, side in sides.items():
        rows.append((f"{framework} {side['version']}", f"{side['import_s']:.2f}",
                     f"{side['setup_s']:.2f}", f"{side['first_step_s']:.3f}",
                     f"{side['step_ms']:.3f}", str(side["steps"]), f"{side['total_s']:.2f}"))
    ratio = ratios(sides)
    rows.append(("torch / jax", "", f"{ratio.get('setup_s', 0):.2f}",
                 f"{ratio.get('first_step_s', 0):.2f}",
                 f"{ratio.get('step_ms', 0):.2f}", "", f"{ratio.get('total_s', 0):.2f}"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    threads = sides["torch"].get("threads")
    on_threads = f", torch on {threads} thread{'s' * (threads > 1)}" if threads else ""
    lines = [f"Race: {topic}, {devices(sides)}{on_threads}", ""]
    for row in rows:
        lines.append("  ".join([row[0].ljust(widths[0])] +
                               [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]))
    lines += ["", textwrap.fill(
        "setup: model, optimiser and batch on the device (for jax, each eager operation is "
        "compiled on first use); first step: compilation (jax.jit) and warm-up; per step: the "
        "median of five chunks of steady-state steps, each waited for; total: import, setup, "
        "first step and every step, "
        "in one fresh process per framework. A ratio above 1: jax was faster. One run: repeat "
        "it before trusting a small difference. On a busy CPU, OMP_NUM_THREADS=1 keeps torch "
        "from waiting on its own threads.", width=88)]
    return "\n".join(lines)


def devices(sides):
    names = {f"{side['device']} ({side['device_name']})" for side in sides.values()}
    if len(names) == 1:
        return f"both on {names.pop()}"
    return ", ".join(f"{framework} on {side['device']} ({side['device_name']})"
                     for framework, side in sides.items())
