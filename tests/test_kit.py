"""`grade kit`: the candidate kit holds statements, pristine stubs, a README and an interface
check, and nothing of the references, hidden suites, hints, theory keys or data."""

import gzip
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.assessment import kit as kit_module
from grader.catalog import Bank

ROOT = Path(__file__).resolve().parent.parent
BANK = Bank(ROOT)
PYTHON = sys.executable
CHECK = kit_module.CHECK_SCRIPT
FAST_ITEMS = ["linear_regression_torch", "linear_regression_jax", "distributed_torch",
              "theory_speed"]


def kit_text(folder):
    """Every file of a kit, as one text."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(Path(folder).rglob("*"))
                     if path.is_file())


def secret_lines(item_id):
    """The non-trivial lines of what must never reach a candidate for this item: its reference,
    its hidden suite (tests, probes, hints, theory key) and the held-out digits."""
    sources = [*sorted((ROOT / "solutions" / item_id).iterdir()),
               *sorted((ROOT / "grader" / "suites" / item_id).iterdir()),
               *sorted((ROOT / "grader" / "data" / "digits").iterdir())]
    for path in sources:
        if not path.is_file():
            continue
        raw = path.read_bytes()
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", "replace")
        for line in text.splitlines():
            yield path, line.strip()


def trivial(line):
    return (len(line) < 12 or line.startswith("#") or re.match(r"(import|from)\s+\S+", line)
            is not None)


def leaks(folder, item_ids):
    """[(secret file, line)] found in the kit that are not also in a stub or statement."""
    text = kit_text(folder)
    public = "\n".join(
        (Path(folder) / item_id / name).read_text(encoding="utf-8")
        for item_id in item_ids for name in ("README.md", BANK.stub_file(item_id).name))
    found = []
    for item_id in item_ids:
        for path, line in secret_lines(item_id):
            if not trivial(line) and line not in public and line in text:
                found.append((path.relative_to(ROOT).as_posix(), line))
    return found


@pytest.fixture(scope="module")
def whole_kit(tmp_path_factory):
    """The kit of every item of the bank, as a folder."""
    out = tmp_path_factory.mktemp("kit") / "kit"
    kit_module.write_kit(BANK, list(BANK.items), out)
    return out


def run_check(kit, *args, poison=None):
    """`python check_interface.py ARGS` in a subprocess where the grader cannot be imported."""
    environment = dict(os.environ)
    if poison is not None:  # a `grader` package that fails on import shadows the real one
        (poison / "grader").mkdir(parents=True, exist_ok=True)
        (poison / "grader" / "__init__.py").write_text(
            "raise ImportError('check_interface.py must not need the grader')\n")
        environment["PYTHONPATH"] = str(poison)
    return subprocess.run([PYTHON, str(Path(kit) / CHECK), *map(str, args)], cwd=poison or kit,
                          env=environment, capture_output=True, text=True, timeout=600)


def candidate(tmp_path, item_ids, name="alice"):
    """A hand-in folder holding the references of these items."""
    folder = tmp_path / name
    folder.mkdir()
    for item_id in item_ids:
        shutil.copy(BANK.solution_file(item_id), folder)
    return folder


def test_the_kit_holds_no_line_of_the_references_suites_hints_keys_or_data(whole_kit):
    assert leaks(whole_kit, list(BANK.items)) == []


def test_the_leak_search_finds_a_reference_planted_in_a_kit(tmp_path):
    out = tmp_path / "kit"
    kit_module.write_kit(BANK, ["linear_regression_jax", "theory_speed"], out)
    shutil.copy(ROOT / "grader" / "suites" / "theory_speed" / "questions.yaml", out / "key.yaml")
    shutil.copy(BANK.solution_file("linear_regression_jax"), out / "answer.py")
    found = {path for path, _ in leaks(out, ["linear_regression_jax", "theory_speed"])}
    assert {"solutions/linear_regression_jax/linear_regression_jax.py",
            "grader/suites/theory_speed/questions.yaml"} <= found


def test_the_kit_holds_only_statements_stubs_the_readme_and_the_check(whole_kit):
    names = {path.relative_to(whole_kit).as_posix() for path in whole_kit.rglob("*")
             if path.is_file()}
    expected = {"README.md", CHECK}
    for item_id in BANK.items:
        expected |= {f"{item_id}/README.md", f"{item_id}/{BANK.stub_file(item_id).name}"}
    assert names == expected
    from grader.bank_stubs import bank_stub

    for item_id in ("theory_speed", "cnn_jax"):
        with bank_stub(BANK, item_id) as stub:
            assert (whole_kit / item_id / stub.path.name).read_bytes() == stub.path.read_bytes()
    answers = (whole_kit / "theory_speed" / "theory_speed.yaml").read_text()
    assert re.findall(r"^q\d+:[ \t]*$", answers, re.MULTILINE), "a blank answers file"
    assert not re.search(r"^q\d+:[ \t]*[^\s#]", answers, re.MULTILINE), "no answer in it"


def test_the_interface_check_passes_on_the_references_without_the_grader(tmp_path):
    out = tmp_path / "kit"
    kit_module.write_kit(BANK, FAST_ITEMS, out)
    folder = candidate(tmp_path, FAST_ITEMS)
    done = run_check(out, folder, poison=tmp_path / "poison")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "FAIL" not in done.stdout
    assert "import linear_regression_torch.py" in done.stdout
    assert "predict: float32 (5, 2)" in done.stdout
    poisoned = subprocess.run([PYTHON, "-c", "import grader"], cwd=tmp_path / "poison",
                              env={**os.environ, "PYTHONPATH": str(tmp_path / "poison")},
                              capture_output=True, text=True)
    assert poisoned.returncode != 0, "the poisoned grader package must shadow the real one"


def test_the_interface_check_fails_on_a_renamed_function_or_parameter(tmp_path):
    out = tmp_path / "kit"
    kit_module.write_kit(BANK, ["linear_regression_torch"], out)
    folder = candidate(tmp_path, ["linear_regression_torch"])
    path = folder / "linear_regression_torch.py"
    reference = path.read_text()
    path.write_text(reference.replace("def mse_loss(", "def mean_squared_error(", 1))
    done = run_check(out, folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL mse_loss: missing" in done.stdout
    path.write_text(re.sub(r"def fit\(x, y\)", "def fit(inputs, y)", reference, count=1))
    done = run_check(out, folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL fit: expected parameters (x, y), got (inputs, y)" in done.stdout


def test_the_interface_check_fails_on_wrong_shapes_and_on_the_stub(tmp_path):
    out = tmp_path / "kit"
    kit_module.write_kit(BANK, ["linear_regression_jax", "theory_speed"], out)
    done = run_check(out)  # the kit's own files: the stubs
    assert done.returncode == 1
    assert "still the stub: it raises NotImplementedError" in done.stdout
    assert "7 left blank" in done.stdout
    folder = candidate(tmp_path, ["linear_regression_jax"])
    (folder / "theory_speed.yaml").write_text("q1: true\n")
    path = folder / "linear_regression_jax.py"
    path.write_text(path.read_text() + "\n\n_predict = predict\n\ndef predict(params, x):\n"
                    "    return _predict(params, x)[:, 0]\n")
    done = run_check(out, folder)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "FAIL predict: predict(params, x): expected shape (5, 2), got (5,)" in done.stdout
    assert "FAIL no line for q2, q3, q4, q5, q6, q7" in done.stdout


def test_the_interface_check_shows_no_reference_value_or_hidden_check(whole_kit):
    script = (whole_kit / CHECK).read_text()
    assert "solutions" not in script and "suites" not in script and "hints" not in script
    assert "import grader" not in script and "from grader" not in script


@pytest.mark.slow
def test_the_interface_check_passes_on_every_reference(whole_kit, tmp_path):
    folder = candidate(tmp_path, list(BANK.items))
    done = run_check(whole_kit, folder, poison=tmp_path / "poison")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_readme_says_setup_tasks_limits_device_and_hand_in(whole_kit):
    readme = (whole_kit / "README.md").read_text()
    assert "Python 3.10 or newer" in readme
    assert readme.index("pip install torch==2.13.0") < readme.index("'jax")  # pinned or a range
    assert "'optax" in readme and "'gymnasium" in readme
    assert "3. `loss_and_grads(model, images, labels) -> (loss, grads)`" in readme
    assert "10 x the reference's time for the same call on the same machine, at least 30 s, " \
           "at most 300 s" in readme  # cnn's floor, from the catalog
    assert "at least 5 s, at most 300 s" in readme
    assert "GPU" in readme and "CPU" in readme
    assert "<your-name>/" in readme and "    theory_speed.yaml" in readme
    assert f"python {CHECK}" in readme


def test_a_theory_only_kit_asks_for_no_framework(tmp_path):
    kit_module.write_kit(BANK, ["theory_speed"], tmp_path / "kit")
    readme = (tmp_path / "kit" / "README.md").read_text()
    assert "pip install" not in readme and "no package" in readme


def test_grade_kit_writes_a_zip_with_one_top_folder(grade, tmp_path):
    result = grade("kit", "CNN_JAX", "theory_speed", "cnn_jax", "--out", tmp_path / "take.zip")
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(tmp_path / "take.zip") as archive:
        names = set(archive.namelist())
    assert names == {"take/README.md", f"take/{CHECK}", "take/cnn_jax/README.md",
                     "take/cnn_jax/cnn_jax.py", "take/theory_speed/README.md",
                     "take/theory_speed/theory_speed.yaml"}


def test_grade_kit_suggests_the_id_meant(grade, tmp_path):
    result = grade("kit", "cnn_jx", "--out", tmp_path / "kit")
    assert result.exit_code == 2
    assert "Did you mean cnn_jax" in result.output
    assert not (tmp_path / "kit").exists()


def test_grade_kit_refuses_a_non_empty_folder_without_force(grade, tmp_path):
    out = tmp_path / "kit"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = grade("kit", "cnn_jax", "--out", out)
    assert result.exit_code == 2 and "--force" in result.output
    result = grade("kit", "cnn_jax", "--out", out, "--force")
    assert result.exit_code == 2 and "not a kit" in result.output
    assert [path.name for path in out.iterdir()] == ["notes.txt"]


def test_grade_kit_replaces_a_kit_with_force_and_fills_an_empty_folder(grade, tmp_path):
    out = tmp_path / "kit"
    out.mkdir()
    assert grade("kit", "cnn_jax", "--out", out).exit_code == 0
    assert grade("kit", "theory_speed", "--out", out).exit_code == 2
    result = grade("kit", "theory_speed", "--out", out, "--force")
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in out.iterdir()) == ["README.md", CHECK, "theory_speed"]
    assert [path.name for path in tmp_path.iterdir()] == ["kit"], "no temporary folder is left"


def test_the_kit_ships_the_committed_stub_when_the_working_one_is_edited(grade, bank_copy,
                                                                         tmp_path):
    from grader import practice

    shutil.copy(ROOT / practice.MANIFEST, bank_copy / practice.MANIFEST)
    for args in (["init", "-q"], ["add", "exercises", "grader"],
                 ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "bank"]):
        subprocess.run(["git", "-C", str(bank_copy), *args], check=True, capture_output=True)
    stub = bank_copy / "exercises" / "cnn_torch" / "cnn_torch.py"
    pristine = stub.read_text()
    stub.write_text(pristine.replace("raise NotImplementedError", "return 42  # my answer"))
    result = grade("kit", "cnn_torch", "--out", tmp_path / "kit")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "kit" / "cnn_torch" / "cnn_torch.py").read_text() == pristine
