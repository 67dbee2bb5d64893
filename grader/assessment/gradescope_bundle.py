"""`grade gradescope ID... --out autograder.zip`: a Gradescope autograder bundle.

The zip holds, at its top (as Gradescope wants it):

- `setup.sh`: run once by Gradescope on its Ubuntu image: installs `torch==2.13.0` first (the
  PyTorch the bank is graded with, as scripts/setup.sh pins it), then the project in `source/`
  (editable, so its bank is the bundle's);
- `run_autograder`: run for every submission: grades the files found under
  `$AUTOGRADER_ROOT/submission` (default `/autograder`) in assessment mode, one judge process
  per item, and writes `$AUTOGRADER_ROOT/results/results.json` in Gradescope's format (through
  grader/assessment/reports/gradescope.py, the writer `grade batch` uses);
- `source/`: the grader package with the hidden parts of the chosen items only: the catalog
  cut to them, their suites, their references (solutions/), their statements and stubs, and
  grader/data only where an item needs it (the CNN items: the digits); plus
  `source/gradescope.json`, the bundle's settings (items, seed, device, sandbox policy, each
  item's points).

The sandbox: Gradescope runs each submission in a Docker container, where unprivileged user
namespaces are often blocked and bubblewrap cannot start. A bundle requires the sandbox, as
assessment mode does everywhere: where none starts, results.json says grading was refused,
why, and scores 0. Built with `--container-is-the-sandbox`, it grades with `--sandbox none`
and every report (the top-level output and each test's) says that the container is the
isolation boundary: the submission's code runs as the container's user, and can read what that
user reads inside the container (the bundle's hidden suite and references included).

One seed for the whole assignment, drawn when the bundle is built (or `--seed`) and kept in
gradescope.json, so every student meets the same inputs, as in `grade batch`.
"""

import hashlib
import io
import json
import os
import secrets
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import grader

TORCH_PIN = "2.13.0"
CONFIG = "gradescope.json"
CONTAINER_NOTE = ("the container is the isolation boundary: this bundle was built with "
                  "--container-is-the-sandbox, so the submission ran without the bubblewrap "
                  "sandbox, as the container's user")
DATA_ITEMS_TOPICS = ("cnn",)  # topics whose suites read grader/data (the held-out digits)

SETUP_SH = f"""#!/usr/bin/env bash
# Gradescope runs this once on its Ubuntu image, from /autograder/source's parent folder.
set -euo pipefail
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv >/dev/null || true
PIP="python3 -m pip install --quiet --disable-pip-version-check"
$PIP --upgrade pip || true
# the pinned PyTorch first (CPU wheels), then the project with its other frameworks
$PIP "torch=={TORCH_PIN}" || $PIP --break-system-packages "torch=={TORCH_PIN}"
$PIP -e "$ROOT/source" || $PIP --break-system-packages -e "$ROOT/source"
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission; results go to $AUTOGRADER_ROOT/results/results.json.
set -u
ROOT="${AUTOGRADER_ROOT:-/autograder}"
export AUTOGRADER_ROOT="$ROOT" DLPREP_ROOT="$ROOT/source"
cd "$ROOT/source" && exec python3 -m grader.assessment.gradescope_bundle
"""


class BundleError(Exception):
    """A bundle that cannot be made as asked; the message says what to do."""


# --- building --------------------------------------------------------------------------------


def _catalog_for(bank, items):
    """The catalog text cut to `items` (a twin left out is dropped from its item)."""
    import yaml

    document = yaml.safe_load(bank.catalog_file.read_text(encoding="utf-8"))
    kept = []
    for entry in document["items"]:
        if entry.get("id") in items:
            entry = dict(entry)
            if entry.get("twin") and entry["twin"] not in items:
                entry.pop("twin")
            kept.append(entry)
    document["items"] = kept
    return ("# The catalog of a Gradescope bundle (grade gradescope): the chosen items only.\n"
            + yaml.safe_dump(document, sort_keys=False))


def item_points(bank, item_id):
    """An item's max score: one point a check (code), one a question (theory)."""
    item = bank.item(item_id)
    suite = bank.suite_dir(item_id)
    if item.kind == "theory":
        import yaml

        document = yaml.safe_load((suite / "questions.yaml").read_text(encoding="utf-8"))
        questions = document.get("questions", document) if isinstance(document, dict) else document
        return len(questions or [])
    return (suite / f"test_{item_id}.py").read_text(encoding="utf-8").count("\ndef test_")


def bundle_files(bank, items):
    """{path in the zip: bytes} of the bundle's source/ folder (settings excluded)."""
    root = bank.root
    files = {}

    def add(path):
        path = Path(path)
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            files["source/" + path.relative_to(root).as_posix()] = path.read_bytes()

    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        add(root / name)
    package = root / "grader"
    hidden = {package / "suites", package / "data"}
    for path in sorted(package.rglob("*")):
        if any(part in hidden for part in path.parents):
            continue
        add(path)
    add(package / "suites" / "pytest.ini")
    for name in ("conftest.py", "__init__.py"):
        add(package / "suites" / name)
    for item_id in items:
        for folder in (bank.suite_dir(item_id), root / "solutions" / item_id,
                       root / "exercises" / item_id):
            for path in sorted(folder.rglob("*")):
                add(path)
    if any(bank.item(item_id).topic in DATA_ITEMS_TOPICS for item_id in items):
        for path in sorted((package / "data").rglob("*")):
            add(path)
    files["source/grader/catalog.yaml"] = _catalog_for(bank, items).encode()
    return files


def build(bank, items, out, seed=None, device="auto", container_is_the_sandbox=False):
    """Write the bundle zip to `out`; returns its settings (gradescope.json's content)."""
    if not items:
        raise BundleError("name at least one item: grade gradescope ID... --out autograder.zip")
    for item_id in items:
        bank.item(item_id)
    bank.validate_files(items)
    config = {
        "items": list(items),
        "seed": secrets.randbelow(2**31) if seed is None else seed,
        "device": device,
        "container_is_the_sandbox": bool(container_is_the_sandbox),
        "points": {item_id: item_points(bank, item_id) for item_id in items},
        "grader_version": grader.__version__,
        "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    files = bundle_files(bank, items)
    files["source/" + CONFIG] = (json.dumps(config, indent=2) + "\n").encode()
    out = Path(out)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text, mode in (("setup.sh", SETUP_SH, 0o755),
                                 ("run_autograder", RUN_AUTOGRADER, 0o755)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text)
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=out.parent)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(buffer.getvalue())
    os.replace(temporary, out)
    return config


# --- running (inside Gradescope's container) -------------------------------------------------


def _find_files(submission_dir, wanted, candidate):
    """{item id: bytes} of the submission: files at the top, or in one folder inside."""
    from grader.assessment.batch import Refused, check_text, read_folder

    folder = Path(submission_dir)
    if not folder.is_dir():
        candidate.error(f"no submission folder {folder}")
        return {}
    files = read_folder(folder, candidate)
    if not set(files) & set(wanted):
        inner = [entry for entry in os.scandir(folder)
                 if entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "__"))]
        if len(inner) == 1:
            files = read_folder(inner[0].path, candidate)
    found = {}
    for name, data in sorted(files.items()):
        if name not in wanted:
            continue
        try:
            check_text(name, data)
        except Refused as refused:
            candidate.error(str(refused), item=wanted[name], file=name)
            continue
        found[wanted[name]] = data
    return found


def _refused(reason, config):
    items = config["items"]
    return {
        "score": 0,
        "max_score": sum(config["points"].get(item, 0) for item in items),
        "execution_time": 0,
        "output": (f"grading refused: this autograder requires the bubblewrap sandbox, and none "
                   f"can start in this container: {reason}. Nothing was graded. The course "
                   "staff can rebuild the bundle with `grade gradescope ... "
                   "--container-is-the-sandbox` to grade with the container as the isolation "
                   "boundary."),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [],
    }


def grade_submission(root):
    """Grade $AUTOGRADER_ROOT/submission; returns the results.json object."""
    from grader import sandbox
    from grader.assessment.batch import Candidate
    from grader.assessment.reports import gradescope
    from grader.catalog import Bank

    root = Path(root)
    source = root / "source"
    config = json.loads((source / CONFIG).read_text(encoding="utf-8"))
    container = config.get("container_is_the_sandbox")
    if not container:
        try:
            choice = sandbox.choose(None)
        except sandbox.Unavailable as exc:
            return _refused(str(exc), config)
        if choice.kind == "none":
            return _refused(choice.reason, config)
    bank = Bank(source)
    items = config["items"]
    wanted = {bank.stub_file(item_id).name: item_id for item_id in items}
    candidate = Candidate("submission", "folder")
    found = _find_files(root / "submission", wanted, candidate)
    reports = {}
    with tempfile.TemporaryDirectory(prefix="dlprep-gradescope-") as work:
        for item_id, data in found.items():
            path = Path(work) / bank.stub_file(item_id).name
            path.write_bytes(data)
            output = Path(work) / f"{item_id}.report.json"
            command = [sys.executable, "-m", "grader", "exercise", item_id, "--file", str(path),
                       "--format", "json", "--output", str(output),
                       "--seed", str(config["seed"]), "--device", config["device"],
                       "--mode", "assessment"]
            command += ["--sandbox", "none"] if container else ["--require-sandbox"]
            env = dict(os.environ, DLPREP_ROOT=str(source),
                       PYTHONPATH=str(source) + os.pathsep + os.environ.get("PYTHONPATH", ""))
            try:
                done = subprocess.run(command, cwd=source, env=env, stdin=subprocess.DEVNULL,
                                      capture_output=True, timeout=_timeout_s(bank, item_id))
                tail = done.stderr.decode("utf-8", "replace").strip()[-1500:]
            except subprocess.TimeoutExpired:
                candidate.error("the grader did not finish in time", item=item_id,
                                file=path.name)
                continue
            try:
                report = json.loads(output.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                if done.returncode == 2 and "sandbox" in tail:
                    return _refused(tail, config)
                candidate.error(f"the grader failed on this file (exit {done.returncode}): "
                                f"{tail or 'no message'}", item=item_id, file=path.name)
                continue
            report["submission_sha256"] = hashlib.sha256(data).hexdigest()
            reports[item_id] = report
    from grader.assessment.batch import bank_digest

    cand = {"candidate": "submission", "items": reports,
            "errors": [error["error"] for error in candidate.errors],
            "seed": config["seed"], "device": config["device"],
            "grader_version": grader.__version__,
            "bank": {"version": f"gradescope bundle of {config.get('built')}",
                     "digest": bank_digest(bank)}}
    boxes = [report.get("sandbox") for report in reports.values() if report.get("sandbox")]
    if boxes:
        cand["sandbox"] = boxes[0]
    maxima = dict(config.get("points") or {})
    maxima.update({item: int(report.get("max_score") or 0) for item, report in reports.items()})
    result = gradescope.results(cand, items, maxima, {"items": items, "seed": config["seed"],
                                                      "device": config["device"]})
    if container:
        result["output"] = f"isolation: {CONTAINER_NOTE}\n" + result["output"]
        for test in result["tests"]:
            test["output"] = f"isolation: {CONTAINER_NOTE}\n" + test["output"]
    return result


def _timeout_s(bank, item_id):
    item = bank.item(item_id)
    if item.kind == "theory":
        return 300
    return (2 + 2 * item_points(bank, item_id)) * item.limits["cap_s"] + 120


def main():
    root = Path(os.environ.get("AUTOGRADER_ROOT") or "/autograder")
    results_dir = root / "results"
    results_dir.mkdir(parents=True, exist_ok=True)
    try:
        result = grade_submission(root)
    except Exception as exc:  # the grader's fault: said, never a silent zero
        result = {"score": 0, "execution_time": 0, "tests": [], "visibility": "visible",
                  "output": f"internal error of the autograder (not the student's fault; "
                            f"regrade): {type(exc).__name__}: {exc}"}
    descriptor, temporary = tempfile.mkstemp(prefix=".tmp-", dir=results_dir)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(temporary, results_dir / "results.json")
    print(result.get("output", ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
