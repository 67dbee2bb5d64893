"""The report of one grading run, and the exit codes every command answers with."""

import dataclasses
import enum
import json
import re

from grader import verdicts

SCHEMA_VERSION = 1
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text):
    """Text from learner code, safe for a terminal: control characters shown as escapes."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text or "")


OUTPUT_LINES = 40  # of the learner's output shown in the text report
# verdicts that are nouns, counted in the summary ("9 errors"); the others read as adjectives
PLURALS = {verdicts.ERROR: "errors", verdicts.TIMEOUT: "timeouts",
           verdicts.OUTPUT_LIMIT: "output limits", verdicts.INTERNAL: "internal errors"}


def plural(count, one, many=None):
    """"1 check", "2 checks"; `many` for the irregular ones."""
    return f"{count} {one if count == 1 else many or one + 's'}"


def counted(count, verdict):
    """A count of checks with one verdict, as the summary says it: "1 error", "9 errors"."""
    many = PLURALS.get(verdict) if count != 1 else None
    return f"{count} {many or verdicts.label(verdict)}"


class ExitCode(enum.IntEnum):
    ALL_PASSED = 0
    NOT_ALL_PASSED = 1
    USAGE = 2
    INTERNAL = 3
    INTERRUPTED = 130  # Ctrl-C, or a signal the graded code sent to the grader
    BROKEN_PIPE = 141  # 128 + SIGPIPE: the output's reader went away (`grade list | head -1`)


@dataclasses.dataclass
class CheckResult:
    name: str
    task: object
    status: str
    message: str
    time_s: float
    limit_s: float
    points: int = 1

    @property
    def score(self):
        return self.points if self.status == verdicts.PASSED else 0

    @property
    def title(self):
        return self.name.replace("_", " ")


@dataclasses.dataclass
class Report:
    exercise: str
    file: str
    seed: int
    limits: str
    framework: str = None
    device: str = None
    device_name: str = None
    versions: dict = dataclasses.field(default_factory=dict)
    memory: str = None
    sandbox: dict = None  # {"kind": "bwrap", "protections": [...]} or {"kind": "none", "reason"}
    overall_limit_s: float = None  # the whole grading's wall-clock limit
    checks: list = dataclasses.field(default_factory=list)
    load_error: str = None
    internal_error: str = None
    usage_error: str = None
    learner_output: str = ""
    learner_output_bytes: int = 0
    elapsed_s: float = 0.0

    @property
    def status(self):
        if self.internal_error or any(c.status == verdicts.INTERNAL for c in self.checks):
            return "error"
        if self.checks and all(c.status == verdicts.PASSED for c in self.checks):
            return "passed"
        return "failed"

    @property
    def exit_code(self):
        return {"passed": ExitCode.ALL_PASSED, "failed": ExitCode.NOT_ALL_PASSED,
                "error": ExitCode.INTERNAL}[self.status]

    @property
    def score(self):
        return sum(check.score for check in self.checks)

    @property
    def max_score(self):
        return sum(check.points for check in self.checks)

    def to_dict(self):
        return {
            "version": SCHEMA_VERSION,
            "exercise": self.exercise,
            "file": self.file,
            "status": self.status,
            "score": self.score,
            "max_score": self.max_score,
            "device": self.device,
            "device_name": self.device_name,
            "versions": self.versions,
            "seed": self.seed,
            "limits": {"time": self.limits, "memory": self.memory,
                       "overall_s": self.overall_limit_s},
            "sandbox": self.sandbox,
            "load_error": self.load_error,
            "internal_error": self.internal_error,
            "output": {"head": self.learner_output, "bytes": self.learner_output_bytes},
            "elapsed_s": self.elapsed_s,
            "checks": [
                {"name": c.name, "title": c.title, "task": c.task, "status": c.status,
                 "message": c.message, "time_s": c.time_s, "limit_s": c.limit_s,
                 "points": c.points, "score": c.score}
                for c in self.checks
            ],
        }

    def to_json(self):
        return json.dumps(self.to_dict(), indent=2)

    def to_text(self, style=lambda text, **_: text, next_steps=False):
        """The report for people; `next_steps` (practice, never an assessment) ends it with
        what to do next: a hint after a failure, the solution and the next item after a pass."""
        lines = self._header(style)
        if self.load_error:
            lines += ["", style("Your file did not load:", fg="red", bold=True)]
            lines += ["  " + printable(line) for line in self.load_error.splitlines()]
            lines += [f"  ({plural(len(self.checks), 'check')} not run)"]
        if self.internal_error:
            lines += ["", style("Internal error (not your fault; please report it):",
                                fg="magenta", bold=True)]
            lines += ["  " + printable(line) for line in self.internal_error.splitlines()]
        if not self.load_error:
            lines += self._checks_text(style)
        if self.learner_output_bytes:
            shown = len(self.learner_output.encode())
            more = f" (the first {shown} shown)" if self.learner_output_bytes > shown else ""
            lines += ["", style(f"Your code printed {self.learner_output_bytes} bytes{more}:",
                                bold=True)]
            lines += ["  | " + printable(line)
                      for line in self.learner_output.splitlines()[:OUTPUT_LINES]]
        lines += ["", self._summary(style)]
        if next_steps:
            lines += self._next_steps()
        return "\n".join(lines)

    def _next_steps(self):
        """The practice commands to run next, as lines (none after an internal error)."""
        if self.status == "passed":
            return [f"Next: `grade solution {self.exercise}` shows the reference to compare "
                    "with yours; `grade next` names the next exercise."]
        if self.status == "failed":
            return [f"Next: `grade hint {self.exercise}` gives a hint for the first task that "
                    "failed; fix it and grade again."]
        return []

    def _checks_text(self, style):
        lines, task, seen = [], object(), {}
        for check in self.checks:
            if check.task != task:
                task = check.task
                lines += ["", style(f"Task {task}", bold=True)]
            lines += self._check_lines(check, style, seen.get(check.message))
            seen.setdefault(check.message, check.title)
        return lines

    def _header(self, style):
        names = [self.framework] if self.framework else ["torch", "jax"]
        versions = " · ".join(f"{name} {self.versions[name]}" for name in names
                              if name in self.versions)
        lines = [style(f"dlprep · {self.exercise} · {printable(self.file)}", bold=True)]
        if self.device:
            lines.append(f"device {self.device} ({self.device_name}) · {versions} · "
                         f"seed {self.seed} (replay with --seed {self.seed})")
            lines.append(f"time limit per check: {self.limits} · memory: {self.memory}")
        elif self.seed is not None:  # theory items have no seed
            lines.append(f"seed {self.seed}")
        if self.sandbox:
            lines.append(self._sandbox_line())
        return lines

    def _sandbox_line(self):
        if self.sandbox.get("kind") == "none":
            return f"sandbox: none, your code ran as you ({self.sandbox.get('reason')})"
        return (f"sandbox: {self.sandbox.get('kind')} (no bank, no network, no grader "
                "processes in view)")

    def _check_lines(self, check, style, same_as=None):
        colour = {"passed": "green", "failed": "red", "internal_error": "magenta"}.get(
            check.status, "yellow")
        mark = "✓" if check.status == verdicts.PASSED else "✗"
        timing = (f"{check.time_s:.2f} s / {check.limit_s:.2f} s" if check.limit_s
                  else f"{check.time_s:.2f} s")
        head = f"  {style(mark + ' ' + verdicts.label(check.status).ljust(16), fg=colour)}" \
               f"{check.title}  ({timing})"
        lines = [head]
        if not check.message:
            return lines
        if check.status == verdicts.PASSED:  # a note on how it passed, one line each, dimmed
            return lines + [style("      " + printable(line), dim=True)
                            for line in check.message.splitlines()]
        if same_as and "\n" in check.message:
            return lines + [f"      the same as for '{same_as}' above"]
        return lines + ["      " + printable(line) for line in check.message.splitlines()]

    def _summary(self, style):
        counts = {}
        for check in self.checks:
            counts[check.status] = counts.get(check.status, 0) + 1
        parts = ", ".join(counted(n, status) for status, n in counts.items())
        colour = {"passed": "green", "failed": "red", "error": "magenta"}[self.status]
        return style(f"{self.status.upper()}  score {self.score}/{self.max_score}"
                     f"{' · ' + parts if parts else ''} · {self.elapsed_s:.1f} s", fg=colour,
                     bold=True)
