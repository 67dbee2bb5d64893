"""One side of a race, in a fresh interpreter: print its times as one JSON line.

    python -m grader.races.runner TOPIC FRAMEWORK DEVICE REFERENCE_FILE STEPS

Times: `import_s` (the framework and the reference), `setup_s` (model, optimiser, inputs on
the device), `first_step_s` (compilation and warm-up), `step_ms` (the median of a few chunks of
steady-state steps, each chunk waited for), `total_s` (all of it, STEPS steps in all).
"""

import importlib
import importlib.util
import json
import statistics
import sys
import time

CHUNKS = 5
SEED = 0


def main(topic, framework, requested, reference_file, steps):
    started = time.perf_counter()
    from grader.worker import NoDevice, framework_versions, resolve_device

    try:
        device, device_name = resolve_device(framework, requested)
    except NoDevice as exc:
        return {"error": str(exc), "no_device": True}
    spec = importlib.util.spec_from_file_location(f"{topic}_{framework}", reference_file)
    reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(reference)
    imported = time.perf_counter()

    import numpy as np

    adapter = importlib.import_module(f"grader.races.{topic}")
    arrays = adapter.inputs(np.random.default_rng(SEED))
    step = getattr(adapter, f"{framework}_step")(reference, device, *arrays)
    wait = waiter(framework, device)
    wait(None)
    set_up = time.perf_counter()
    wait(step())
    first = time.perf_counter()
    per_step = []
    remaining = steps - 1
    for chunk in range(CHUNKS):
        size = remaining // (CHUNKS - chunk)
        remaining -= size
        if size == 0:
            continue
        chunk_started = time.perf_counter()
        for _ in range(size):
            result = step()
        wait(result)
        per_step.append((time.perf_counter() - chunk_started) / size)
    finished = time.perf_counter()
    threads = sys.modules["torch"].get_num_threads() if framework == "torch" else None
    return {"framework": framework, "version": framework_versions().get(framework),
            "threads": threads,
            "device": device, "device_name": device_name, "steps": steps,
            "import_s": imported - started, "setup_s": set_up - imported,
            "first_step_s": first - set_up,
            "step_ms": 1000 * statistics.median(per_step) if per_step else None,
            "total_s": finished - started}


def waiter(framework, device):
    """A function that blocks until a step's result (or all queued work) is computed."""
    if framework == "jax":
        import jax

        return lambda result: result is None or jax.block_until_ready(result)
    import torch

    return lambda result: torch.cuda.synchronize() if device == "cuda" else None


if __name__ == "__main__":
    topic, framework, requested, reference_file, steps = sys.argv[1:6]
    print(json.dumps(main(topic, framework, requested, reference_file, int(steps))))
