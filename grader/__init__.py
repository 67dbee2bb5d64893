"""dlprep's grader: the judge behind the `grade` command.

The judge imports only light modules (never torch or jax); learner and reference code run in
worker processes (see `grader.worker`).
"""

__version__ = "0.1.0"
