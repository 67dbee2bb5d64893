"""Verdicts of a check, and the faults that carry them out of a worker call."""

PASSED = "passed"
FAILED = "failed"
NOT_IMPLEMENTED = "not_implemented"
ERROR = "error"
TIMEOUT = "timeout"
MEMORY = "memory"
CRASHED = "crashed"
OUTPUT_LIMIT = "output_limit"
INTERNAL = "internal_error"

LEARNER_VERDICTS = (FAILED, NOT_IMPLEMENTED, ERROR, TIMEOUT, MEMORY, CRASHED, OUTPUT_LIMIT)


def label(verdict):
    """How a verdict reads in the text report: "not implemented", "output limit"."""
    return verdict.replace("_", " ")


class LearnerFault(Exception):
    """The learner's code caused this check's verdict (raised through the suite's test)."""

    def __init__(self, verdict, message):
        super().__init__(message)
        self.verdict = verdict
        self.message = message


class InternalFault(Exception):
    """The grader, the suite or the reference failed: never charged to the learner."""
