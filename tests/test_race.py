"""`grade race TOPIC`: the torch and jax references of a topic, timed side by side."""

import importlib
import json

import pytest

from grader.races import adapters


@pytest.mark.parametrize("topic", adapters())
def test_every_race_adapter_has_its_parts(topic):
    adapter = importlib.import_module(f"grader.races.{topic}")
    assert isinstance(adapter.STEPS, int) and adapter.STEPS >= 2
    for part in ("inputs", "torch_step", "jax_step"):
        assert callable(getattr(adapter, part, None)), f"grader/races/{topic}.py lacks {part}"


def test_a_race_times_both_references_on_the_same_device(grade):
    result = grade("race", "linear_regression", "--device", "cpu", "--steps", "20",
                   "--format", "json")
    assert result.exit_code == 0, result.output
    race = json.loads(result.stdout)
    torch_side, jax_side = race["sides"]["torch"], race["sides"]["jax"]
    for side in (torch_side, jax_side):
        assert side["device"] == "cpu" and side["steps"] == 20, side
        assert 0 < side["step_ms"] and 0 < side["first_step_s"] < side["total_s"], side
    assert race["ratios"]["step_ms"] == round(torch_side["step_ms"] / jax_side["step_ms"], 2)


def test_the_race_table_names_the_device_both_frameworks_and_their_ratio():
    from grader.races.compare import table

    def side(framework, step_ms):
        return {"framework": framework, "version": "1.0", "threads": 2, "device": "cpu",
                "device_name": "CPU (x86_64, 2 cores)", "steps": 10, "import_s": 1.0,
                "setup_s": 0.5, "first_step_s": 0.25, "step_ms": step_ms, "total_s": 3.0}

    text = table("cnn", {"torch": side("torch", 6.0), "jax": side("jax", 2.0)})
    assert "both on cpu (CPU (x86_64, 2 cores)), torch on 2 threads" in text, text
    ratio_row = next(line for line in text.splitlines() if line.startswith("torch / jax"))
    assert ratio_row.split() == ["torch", "/", "jax", "1.00", "1.00", "3.00", "1.00"], ratio_row
    assert any(line.startswith("torch 1.0") for line in text.splitlines()), text


def test_an_unknown_topic_is_a_usage_error_with_a_suggestion(grade):
    result = grade("race", "linear_regresion")
    assert result.exit_code == 2 and "Did you mean linear_regression" in result.output


def test_a_topic_without_a_race_says_which_topics_have_one(grade):
    result = grade("race", "theory")
    assert result.exit_code == 2 and "no race for theory" in result.output, result.output
    assert ", ".join(adapters()) in result.output


def test_a_topic_without_both_references_cannot_race(grade, bank_copy):
    (bank_copy / "solutions" / "linear_regression_jax" / "linear_regression_jax.py").unlink()
    result = grade("race", "linear_regression", "--steps", "5")
    assert result.exit_code == 2 and "no jax reference" in result.output, result.output
