"""The catalog: the bank's items are valid, and every kind of mistake is named with its fix."""

import textwrap

import pytest

from grader.catalog import Bank, CatalogError, UnknownItem, load_catalog

VALID = """
defaults:
  limits: {factor: 10, floor_s: 5, cap_s: 300, load_floor_s: 60, memory_mb: 4096}
items:
  - {id: demo_torch, title: Demo, topic: demo, framework: torch, twin: demo_jax}
  - {id: demo_jax, title: Demo, topic: demo, framework: jax, twin: demo_torch}
"""


def write(tmp_path, text):
    path = tmp_path / "catalog.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_banks_catalog_is_valid_and_every_file_exists():
    bank = Bank()
    bank.validate_files()
    assert {"linear_regression_torch", "linear_regression_jax"} <= set(bank.items)


def test_every_item_has_a_twin_in_the_other_framework():
    bank = Bank()
    for item in bank.items.values():
        if item.kind == "theory":  # theory items compare the frameworks: no twin
            assert item.twin is None and item.framework == "both", item
            continue
        twin = bank.item(item.twin)
        assert twin.topic == item.topic and twin.framework != item.framework, item


def test_every_suite_check_has_a_task_marker_and_a_sentence_name():
    import ast

    bank = Bank()
    for item_id in (item.id for item in bank.items.values() if item.kind == "code"):
        suite = bank.suite_dir(item_id) / f"test_{item_id}.py"
        tree = ast.parse(suite.read_text())
        tests = [node for node in tree.body
                 if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]
        assert tests, f"{suite} has no checks"
        for node in tests:
            markers = [ast.unparse(dec) for dec in node.decorator_list]
            assert any(m.startswith("pytest.mark.task(") for m in markers), (
                f"{suite.name}::{node.name} has no @pytest.mark.task(N)")
            assert node.name.count("_") >= 3, f"{node.name} does not read as a sentence"


def test_a_valid_catalog_loads(tmp_path):
    items = load_catalog(write(tmp_path, VALID))
    assert items["demo_jax"].limits["factor"] == 10


@pytest.mark.parametrize("change, expected", [
    (("title: Demo, topic", "titel: Demo, topic"), "unknown key(s) titel"),
    (("framework: jax, twin", "framework: flax, twin"), "framework must be one of"),
    (("id: demo_jax", "id: jax_demo"), "should be demo_jax"),
    (("twin: demo_torch}", "twin: demo_tf}"), "must exist and name it back"),
    (("memory_mb: 4096", "memory_mb: -1"), "must be a positive number"),
    (("load_floor_s: 60, ", ""), "must set all of"),
    (("items:", "itmes:"), "only 'defaults' and 'items'"),
])
def test_a_mistake_in_the_catalog_is_named(tmp_path, change, expected):
    with pytest.raises(CatalogError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_catalog(write(tmp_path, VALID.replace(*change)))


THEORY = "  - {id: theory_demo, kind: theory, title: Demo, topic: theory}\n"


def test_a_theory_item_needs_no_framework_and_has_yaml_answers_files(tmp_path):
    (tmp_path / "grader").mkdir()
    write(tmp_path / "grader", VALID + THEORY)
    bank = Bank(root=tmp_path)
    item = bank.item("theory_demo")
    assert (item.kind, item.framework, item.twin) == ("theory", "both", None), item
    assert bank.stub_file("theory_demo").name == "theory_demo.yaml"
    assert bank.solution_file("theory_demo").name == "theory_demo.yaml"
    assert bank.stub_file("demo_jax").name == "demo_jax.py"
    with pytest.raises(CatalogError, match="needs grader/suites/theory_demo/questions.yaml"):
        for part in ("exercises", "solutions"):
            (tmp_path / part / "theory_demo").mkdir(parents=True)
            (tmp_path / part / "theory_demo" / "theory_demo.yaml").write_text("")
        (tmp_path / "exercises" / "theory_demo" / "README.md").write_text("")
        bank.validate_files(["theory_demo"])


@pytest.mark.parametrize("change, expected", [
    (("kind: theory", "kind: quiz"), "kind must be one of code, theory"),
    (("topic: theory}", "topic: theory, framework: jax}"), "a theory item has no framework"),
    (("topic: theory}", "topic: theory, twin: demo_jax}"), "a theory item has no twin"),
    (("id: theory_demo", "id: quiz_demo"), "ids theory_<subject>"),
    (("topic: theory}", "topic: speed}"), "topic: theory"),
    (("id: theory_demo", "id: theory_"), "ids theory_<subject>"),
    (("title: Demo, topic: theory", "topic: theory"), "is missing title"),
])
def test_a_mistake_in_a_theory_item_is_named(tmp_path, change, expected):
    with pytest.raises(CatalogError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_catalog(write(tmp_path, VALID + THEORY.replace(*change)))


def test_malformed_yaml_names_the_line(tmp_path):
    with pytest.raises(CatalogError, match="line 3"):
        load_catalog(write(tmp_path, "defaults:\n  limits: {factor: 1\nitems: [\n"))


def test_a_missing_file_is_named_with_the_fix(tmp_path):
    (tmp_path / "grader").mkdir()
    write(tmp_path / "grader", VALID)
    bank = Bank(root=tmp_path)
    with pytest.raises(CatalogError, match="needs exercises/demo_torch/README.md"):
        bank.validate_files()


def test_an_unknown_id_suggests_the_closest():
    with pytest.raises(UnknownItem, match="Did you mean linear_regression_jax"):
        Bank().item("linear_regresion_jax")


def test_cpu_devices_reaches_the_workers_environment_and_a_bad_value_is_named(tmp_path):
    from grader.workers import worker_environment

    with_devices = VALID.replace("twin: demo_torch}", "twin: demo_torch, cpu_devices: 4}")
    items = load_catalog(write(tmp_path, with_devices))
    assert items["demo_jax"].cpu_devices == 4 and items["demo_torch"].cpu_devices is None
    flags = worker_environment("cpu", "/bank", items["demo_jax"].cpu_devices)["XLA_FLAGS"]
    assert "--xla_force_host_platform_device_count=4" in flags.split(), flags
    for bad in ("two", "0", "true"):
        with pytest.raises(CatalogError, match="cpu_devices must be a whole number"):
            load_catalog(write(tmp_path, with_devices.replace("cpu_devices: 4",
                                                              f"cpu_devices: {bad}")))
