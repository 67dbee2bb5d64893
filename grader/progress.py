"""The learner's progress: a small JSON file, `.dlprep/progress.json` in the bank by default.

Statuses: absent (not started), "failing", "passed". Each entry also keeps the last score and
the tasks that still had failing checks (`grade hint` starts there). A file that does not parse
is moved aside to `progress.json.bad` rather than overwritten, so nothing is lost. Other
practice state (hints already shown, reset backups) lives in the same folder: `state_dir()`.
"""

import datetime
import json
import os
from pathlib import Path


def progress_file(bank):
    override = os.environ.get("DLPREP_PROGRESS")
    return Path(override) if override else bank.root / ".dlprep" / "progress.json"


def state_dir(bank):
    """The folder of the progress file, where the other practice state is kept too."""
    return progress_file(bank).parent


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


def last_score(progress, item_id):
    """"7/9" from the last recorded run, or "" when the item was never graded."""
    entry = progress.get(item_id)
    if not isinstance(entry, dict) or not isinstance(entry.get("score"), int) \
            or not isinstance(entry.get("max_score"), int):
        return ""
    return f"{entry['score']}/{entry['max_score']}"


def failing_tasks(progress, item_id):
    """The task numbers that still had a failing check in the last recorded run."""
    entry = progress.get(item_id)
    tasks = entry.get("failing_tasks") if isinstance(entry, dict) else None
    return [task for task in tasks if isinstance(task, int)] if isinstance(tasks, list) else []


def record(bank, report):
    """Remember the outcome of grading the learner's own file (best effort: warns on failure)."""
    progress = load(bank)
    progress[report.exercise] = {
        "status": "passed" if report.status == "passed" else "failing",
        "score": report.score,
        "max_score": report.max_score,
        "failing_tasks": sorted({check.task for check in report.checks
                                 if check.status != "passed" and isinstance(check.task, int)}),
        "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    path = progress_file(bank)
    try:
        write_json(path, progress)
    except OSError as exc:
        _warn(f"could not record progress in {path} ({exc.strerror or exc})")


def write_json(path, data):
    """Replace `path` with `data` as JSON, atomically (a reader never sees half a file)."""
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary.write_text(json.dumps(data, indent=2), encoding="utf-8")
    temporary.replace(path)


def practice_order(bank):
    """The items in the order to practise them: catalog order, each followed by its twin."""
    ordered = []
    for item in bank.items.values():
        for item_id in (item.id, item.twin):
            if item_id and item_id in bank.items and item_id not in ordered:
                ordered.append(item_id)
    return [bank.items[item_id] for item_id in ordered]
