"""Hostile learner code: burn CPU from import on, to make the grader's timings lie.

Appended by tests/test_cache_attacks.py to a correct learner file. At import it prints
`SPIN_START <monotonic>` (CLOCK_MONOTONIC, the host's clock too) and forks SPINNERS processes
that burn CPU for as long as the worker lives. A judge that times its calibration workload or
the reference's calls while this runs stores times measured on a machine this file made
busy, and every later grading that reads them back gets limits this file chose: looser
(reference times inflated) or tighter (calibration inflated: false timeouts).
"""

import os as _spin_os
import time as _spin_time

SPINNERS = 2


def _spin_burn():
    while True:
        sum(number * number for number in range(10_000))


_spin_first = _spin_time.monotonic()
print(f"SPIN_START {_spin_first:.6f}", flush=True)
for _ in range(SPINNERS):
    try:
        if _spin_os.fork() == 0:
            try:
                _spin_burn()
            finally:
                _spin_os._exit(0)
    except OSError:
        break
