"""What a grading run is doing, on a terminal's stderr, while it runs: never a blank screen.

`Progress` prints the report's header at once (exercise, file, seed; the device once the
reference worker names it), then one status line redrawn in place, with the seconds spent in
the current step: starting workers, loading the reference and your file, running the
reference, running your code (with its time limit), and a line per check as it finishes, with
its verdict. When the run ends the whole block is erased, so the report that follows stands
alone. Nothing is drawn unless the stream is a terminal: never into JSON, a file or a pipe.

It is the judge's `on_call(event, name, value)` hook. Events:
  ("phase", text, None)        a step of the run starts ("loading your file")
  ("device", description, None) the device the run uses, once known
  ("reference", probe, None)   the reference runs a probe
  ("start", probe, limit_s)    a learner call starts; ("end", probe, limit_s) it ended
  ("check", title, verdict)    a check finished
"""

import shutil
import sys
import threading
import time

TICK_S = 0.5  # the status line is redrawn this often
SHOW_AFTER_S = 1.0  # a learner call's elapsed time is shown once it runs this long
MARKS = {"passed": ("✓", "32"), "failed": ("✗", "31"), "internal_error": ("✗", "35")}


class Progress:
    """The judge's progress hook; draws only when `stream` (default stderr) is a terminal."""

    def __init__(self, stream=None, color=True):
        self.stream = stream or sys.stderr  # taken now: the judge redirects sys.stderr later
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.color = color
        self.lock = threading.Lock()
        self.lines = 0  # lines of the block written so far (the status line not included)
        self.status = ""
        self.since = time.monotonic()
        self.limit_s = None
        self.checks = 0
        self.stop = threading.Event()
        self.thread = None

    # what the commands call ---------------------------------------------------------------

    def begin(self, item_id, file, seed=None):
        """Print the header at once and start the status line."""
        if not self.enabled:
            return
        self._line(self._bold(f"dlprep · {item_id} · {file}"))
        if seed is not None:
            self._line(f"seed {seed} (replay with --seed {seed})")
        self._set("starting workers")
        self.thread = threading.Thread(target=self._tick, daemon=True)
        self.thread.start()

    def finish(self):
        """Stop drawing and erase the block (when it still fits on the screen)."""
        if not self.enabled:
            return
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=2 * TICK_S)
        with self.lock:
            rows = shutil.get_terminal_size((80, 24)).lines
            erase = "\r\033[K"
            if self.lines and self.lines < rows:
                erase += f"\033[{self.lines}A\033[J"  # up to the header, clear below
            elif self.lines:
                erase += "\n"  # scrolled off the top: leave it, start the report below
            self._write(erase)
            self.lines = 0
        self.enabled = False

    # the judge's hook ---------------------------------------------------------------------

    def __call__(self, event, name, value):
        if not self.enabled:
            return
        if event == "phase":
            self._set(name)
        elif event == "device":
            self._line(f"device {name}")
        elif event == "reference":
            self._set(f"running the reference: `{name}`")
        elif event == "start":
            self._set(f"running your `{name}`", limit_s=value)
        elif event == "end":
            self._set("comparing with the reference")
        elif event == "check":
            self.checks += 1
            mark, colour = MARKS.get(value, ("✗", "33"))
            self._line(f"  {self._paint(mark + ' ' + value.replace('_', ' ').ljust(16), colour)}"
                       f" {name}")
            self._set("next check")

    # drawing ------------------------------------------------------------------------------

    def _set(self, status, limit_s=None):
        with self.lock:
            self.status, self.limit_s, self.since = status, limit_s, time.monotonic()
            self._draw()

    def _tick(self):
        while not self.stop.wait(TICK_S):
            with self.lock:
                self._draw()

    def _draw(self):
        elapsed = time.monotonic() - self.since
        text = f"  … {self.status}"
        if self.limit_s and elapsed >= SHOW_AFTER_S:
            text += f": {elapsed:.0f} s of its {self.limit_s:.0f} s limit"
        elif elapsed >= SHOW_AFTER_S:
            text += f" ({elapsed:.0f} s)"
        if self.checks:
            text += f" · {self.checks} checked"
        self._write("\r" + self._fit(text) + "\033[K")

    def _line(self, text):
        """A line that stays (until the block is erased): above the status line."""
        with self.lock:
            self._write("\r\033[K" + self._fit(text) + "\n")
            self.lines += 1
            if self.thread is not None:
                self._draw()

    def _fit(self, text):
        """Cut to the terminal's width, so that every line takes one row (for the erase)."""
        width = shutil.get_terminal_size((80, 24)).columns - 1
        visible, out, escape = 0, [], False
        for char in text:
            if char == "\033":
                escape = True
            if not escape:
                if visible >= width:
                    break
                visible += 1
            elif char == "m":
                escape = False
            out.append(char)
        return "".join(out) + ("\033[0m" if self.color and "\033[" in text else "")

    def _bold(self, text):
        return self._paint(text, "1")

    def _paint(self, text, code):
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False


def graded(bank, item, path, device, seed, stream=None, **options):
    """Grade `path` as `grade exercise` and `grade watch` do: the header and progress on a
    terminal's stderr while it runs; the Report, or Interrupted / UserError. `options` go to
    judge.grade (sandbox_kind, require_sandbox)."""
    import os
    import secrets

    from grader.cli.common import Interrupted, UserError

    if seed is None and item.kind != "theory":
        seed = secrets.randbelow(2**31)  # drawn here, so that the header can show it at once
    progress = Progress(stream, color=not os.environ.get("NO_COLOR"))
    progress.begin(item.id, bank.display(path), seed)  # before the judge's slow imports
    try:
        from grader import judge

        report = judge.grade(bank, item.id, path, device=device, seed=seed, on_call=progress,
                             **options)
    except KeyboardInterrupt:
        raise Interrupted() from None
    finally:
        progress.finish()
    if report.usage_error:
        raise UserError(report.usage_error)
    return report
