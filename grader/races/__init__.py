"""Races: the torch and jax references of one topic, timed side by side (`grade race TOPIC`).

A topic's adapter, `grader/races/<topic>.py`, holds

- `STEPS`: how many training steps a race times by default (what the references' own training
  takes, so that the total means something);
- `inputs(rng)`: one batch as numpy arrays, in the torch layout, the same for both frameworks;
- `torch_step(reference, device, *arrays)` and `jax_step(reference, device, *arrays)`: set up
  the model and optimiser with the reference's public functions and return a function that runs
  one training step and returns what must be waited for.

`grader/races/runner.py` runs one framework's side in a fresh interpreter and prints its times.
`grader/races/compare.py` runs both sides and sets them side by side.
"""

import pkgutil
from pathlib import Path

NOT_ADAPTERS = {"runner", "compare"}


def adapters():
    """The topics that have a race adapter."""
    folder = str(Path(__file__).parent)
    return sorted(module.name for module in pkgutil.iter_modules([folder])
                  if module.name not in NOT_ADAPTERS)
