"""A one-line ticker on a terminal's stderr while a learner call runs: elapsed time / limit."""

import sys
import threading
import time

SHOW_AFTER_S = 1.0  # short calls are not worth a line
TICK_S = 0.5


class Ticker:
    """The judge's `on_call` hook; draws only when stderr is a terminal."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr  # taken now: the judge redirects sys.stderr later
        self.enabled = self.stream.isatty()
        self.stop = None

    def __call__(self, event, probe, limit_s):
        if not self.enabled:
            return
        if event == "start":
            self.stop = threading.Event()
            threading.Thread(target=self._draw, args=(probe, limit_s, self.stop),
                             daemon=True).start()
        elif self.stop is not None:
            self.stop.set()
            self.stop = None

    def _draw(self, probe, limit_s, stop):
        started = time.monotonic()
        drawn = False
        while not stop.wait(TICK_S):
            elapsed = time.monotonic() - started
            if elapsed >= SHOW_AFTER_S:
                self._write(f"\r  running `{probe}`: {elapsed:.0f} s of its {limit_s:.0f} s "
                            "limit\033[K")
                drawn = True
        if drawn:
            self._write("\r\033[K")

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            self.enabled = False
