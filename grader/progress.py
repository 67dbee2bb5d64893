"""The learner's progress: a small JSON file, `.dlprep/progress.json` in the bank by default.

Statuses: absent (not started), "failing", "passed". A file that does not parse is moved
aside to `progress.json.bad` rather than overwritten, so nothing is lost.
"""

import datetime
import json
import os
from pathlib import Path


def progress_file(bank):
    override = os.environ.get("DLPREP_PROGRESS")
    return Path(override) if override else bank.root / ".dlprep" / "progress.json"


def load(bank):
    path = progress_file(bank)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        _warn(f"cannot read the progress file {path} ({exc.strerror}); progress is not shown")
        return {}
    except ValueError:  # not JSON (UnicodeDecodeError included): keep it, start afresh
        try:
            path.replace(path.with_name(path.name + ".bad"))
        except OSError:
            pass
        return {}
    return data if isinstance(data, dict) else {}


def _warn(message):
    import sys

    print(f"warning: {message}", file=sys.stderr)


def status_of(progress, item_id):
    entry = progress.get(item_id)
    return entry.get("status", "not started") if isinstance(entry, dict) else "not started"


def record(bank, report):
    """Remember the outcome of grading the learner's own file (best effort: warns on failure)."""
    progress = load(bank)
    progress[report.exercise] = {
        "status": "passed" if report.status == "passed" else "failing",
        "score": report.score,
        "max_score": report.max_score,
        "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = progress_file(bank)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(json.dumps(progress, indent=2), encoding="utf-8")
        temporary.replace(path)
    except OSError as exc:
        _warn(f"could not record progress in {path} ({exc.strerror or exc})")
