"""Missing framework names get what exists instead: on the messages Python really gives for the
source documents' names, never on other messages, and every name the advice points to exists
in the installed releases while every name the table answers does not."""

import json
import re
import subprocess
import sys

import pytest

from grader.topics.moved_names import MOVED, advice_for, with_advice

# What the source documents (and code copied from older releases) write, each as one statement
# whose error a worker would report; the advice must name what exists instead.
STATEMENTS = {
    "from jax.experimental import parallel as jax_parallel": "jax.shard_map",
    "import jax.experimental.parallel": "jax.shard_map",
    "import jax.nn as jnn; jnn.conv2d": "jax.lax.conv_general_dilated",
    "import jax; jax.nn.Dense": "x @ weight + bias",
    "import jax.nn as jnn; jnn.dense": "x @ weight + bias",
    "from jax.nn import Dense": "x @ weight + bias",
    "import jax.nn as jnn; jnn.adaptive_average_pool2d": "mean over the spatial axes",
    "import jax; jax.jacf": "jax.jacfwd",
    "jax_optimizer.update": "optax.apply_updates",
    "jax_parallel.broadcast": "jax.shard_map",
    "import torchvision_transformers": "torchvision.transforms",
    "import jax; jax.tree_map": "jax.tree.map",
}

# A child interpreter (importing torch and JAX here would slow every later test) reports the
# error text of each statement and, for every dotted name, whether it exists.
PROBE = """
import importlib, json, sys
statements, names = json.loads(sys.argv[1]), json.loads(sys.argv[2])
errors, exists = {}, {}
for statement in statements:
    try:
        exec(statement, {})
        errors[statement] = None
    except Exception as exc:
        errors[statement] = f"{type(exc).__name__}: {exc}"
for name in names:
    parts, found = name.split("."), False
    for end in range(len(parts), 0, -1):
        try:
            value = importlib.import_module(".".join(parts[:end]))
        except ImportError:
            continue
        try:
            for part in parts[end:]:
                value = getattr(value, part)
            found = True
        except AttributeError:
            pass
        break
    exists[name] = found
print(json.dumps({"errors": errors, "exists": exists}))
"""

SUGGESTED = re.compile(r"`((?:jax|optax|torch)(?:\.\w+)+)")  # `jax.lax.conv(`, `optax.sgd(`


def suggested_names():
    names = set()
    for _, instead in MOVED.values():
        names.update(SUGGESTED.findall(instead))
    return sorted(names)


@pytest.fixture(scope="module")
def installed():
    table = sorted(name for name in MOVED if "." in name)  # bare names are NameErrors
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(sorted(STATEMENTS)),
                             json.dumps(table + suggested_names())],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


@pytest.mark.parametrize("statement", sorted(STATEMENTS))
def test_the_error_of_a_documents_name_is_answered_with_what_exists(statement, installed):
    error = installed["errors"][statement]
    assert error, f"`{statement}` raised nothing: the table holds a name that exists"
    advice = advice_for(f"importing your file failed: {error}")
    assert advice and STATEMENTS[statement] in advice, f"{error!r} -> {advice!r}"


def test_every_name_the_table_answers_is_missing_and_every_name_it_suggests_exists(installed):
    exists = installed["exists"]
    present = [name for name in MOVED if "." in name and exists[name]]
    assert not present, f"the table answers names the installed releases have: {present}"
    absent = [name for name in suggested_names() if not exists[name]]
    assert not absent, f"the advice points to names the installed releases lack: {absent}"


def test_a_name_inside_a_missing_module_is_answered_as_that_module():
    advice = advice_for("AttributeError: module 'jax.experimental.parallel' has no attribute "
                        "'broadcast'")
    assert advice and advice.startswith("No `jax.experimental.parallel` here"), advice


def test_any_other_missing_jax_nn_name_is_told_that_jax_nn_has_no_layers():
    advice = advice_for("AttributeError: module 'jax.nn' has no attribute 'max_pool2d'")
    assert advice and "activations and initializers only" in advice, advice
    assert "jax.lax.reduce_window" in advice, advice


@pytest.mark.parametrize("message", [
    "",
    "AttributeError: module 'torch' has no attribute 'no_such_thing'",
    "NameError: name 'learning_rate' is not defined",
    "No module named 'my_helpers'",
    "ValueError: the parallel branch of jax_optimizer is wrong",  # names, but no missing name
    "Called `predict(params, x)`. 3 of 3 values differ from the reference",
])
def test_messages_that_report_no_moved_name_get_no_advice(message):
    assert advice_for(message) is None
    assert with_advice(message) == message


def test_with_advice_keeps_the_message_and_adds_the_advice_on_its_own_line():
    message = "not run: your file did not load (importing your file failed: ImportError: " \
              "cannot import name 'parallel' from 'jax.experimental' (/x/__init__.py))"
    lines = with_advice(message).splitlines()
    assert lines[0] == message and len(lines) == 2 and "jax.shard_map" in lines[1], lines
