"""The learner's progress: a small JSON file, `.dlprep/progress.json` in the bank by default.

Statuses: absent (not started), "failing", "passed". Each entry also keeps the last score and
the tasks that still had failing checks (`grade hint` starts there). A file that is not a JSON
object is moved aside to a new `progress.json.<time>.bad` (never over an earlier one) and a
warning names it, so nothing is lost; a file that exists but cannot be read is left alone and
nothing is recorded until it can be. Other practice state (hints already shown, reset backups)
lives in the same folder: `state_dir()`.
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
    """The progress, {} when there is none yet or it cannot be read (with a warning)."""
    data = read_state(progress_file(bank), "the progress file", "progress is not shown")
    return {} if data is None else data


def read_state(path, what, unreadable):
    """The JSON object in `path`: {} when there is no file, or when it was not a JSON object
    (then it is moved aside with a warning); None when it cannot be read, with a warning that
    ends with `unreadable` (what that means for the command)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    except OSError as exc:
        _warn(f"cannot read {what} {path} ({exc.strerror or exc}): {unreadable}")
        return None
    except ValueError:  # not JSON (UnicodeDecodeError included)
        data = None
    if isinstance(data, dict):
        return data
    kept = keep_aside(path)
    _warn(f"{what} {path} was not a JSON object: " + (
        f"kept as {kept.name}, starting afresh" if kept else "it could not be moved aside"))
    return {} if kept else None


def keep_aside(path):
    """Rename `path` to a new `<name>.<time>.bad` next to it; that path, or None on failure."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 1000):
        target = path.with_name(f"{path.name}.{stamp}{'' if attempt == 1 else f'-{attempt}'}.bad")
        try:
            os.link(path, target)  # fails if the target exists: never over an earlier one
            path.unlink()
            return target
        except FileExistsError:
            continue
        except OSError:  # no hard links here: a rename, after a look
            try:
                if not target.exists():
                    path.rename(target)
                    return target
            except OSError:
                return None
    return None


def _warn(message):
    import sys

    print(f"warning: {message}", file=sys.stderr)


def status_of(progress, item_id):
    """"passed", "failing" or "not started" (also for an entry that is not a known status)."""
    entry = progress.get(item_id)
    status = entry.get("status") if isinstance(entry, dict) else None
    return status if status in ("passed", "failing") else "not started"


def _count(value):
    """`value` if it is a count (an int, not a bool, not negative), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 \
        else None


def last_score(progress, item_id):
    """"7/9" from the last recorded run, or "" when the item was never graded."""
    entry = progress.get(item_id)
    if not isinstance(entry, dict) or _count(entry.get("score")) is None \
            or _count(entry.get("max_score")) is None:
        return ""
    return f"{entry['score']}/{entry['max_score']}"


def failing_tasks(progress, item_id):
    """The task numbers that still had a failing check in the last recorded run."""
    entry = progress.get(item_id)
    tasks = entry.get("failing_tasks") if isinstance(entry, dict) else None
    return [task for task in tasks if _count(task)] if isinstance(tasks, list) else []


def record(bank, report):
    """Remember the outcome of grading the learner's own file (best effort: warns on failure).
    A progress file that exists but cannot be read is never replaced: that would lose the rest."""
    path = progress_file(bank)
    progress = read_state(path, "the progress file", "this run is not recorded, so that the "
                          "progress already in it is not lost")
    if progress is None:
        return
    progress[report.exercise] = {
        "status": "passed" if report.status == "passed" else "failing",
        "score": report.score,
        "max_score": report.max_score,
        "failing_tasks": sorted({check.task for check in report.checks
                                 if check.status != "passed" and isinstance(check.task, int)}),
        "graded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
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
