"""The distributed pair: references pass and stubs are "not implemented" everywhere, plausible
buggy variants and forged shortcuts each fail a named check, correct solutions written the
other way pass, and ranks that die or hang end their checks promptly with a clear verdict,
leaving no process and no listening port behind."""

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from grader import judge
from grader.bank_stubs import bank_stub
from grader.catalog import Bank
from grader.topics.distributed import RANKS_DEADLINE_S
from process_tree import descendants, listening_ports

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

VARIANTS = {
    "torch_gradients_summed": ("distributed_torch", """
        def average_gradients(model):
            for parameter in model.parameters():
                dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
    """, "data_parallel_steps_match_full_batch_gradient_descent"),
    "torch_no_all_reduce": ("distributed_torch", """
        def average_gradients(model):
            pass
    """, "every_rank_ends_the_steps_with_the_same_weights"),
    "torch_full_batch_on_every_rank": ("distributed_torch", """
        def train(model, x, y, learning_rate, num_steps):
            step = make_train_step(model, learning_rate)
            for _ in range(num_steps):
                step(x, y)
            return model
    """, "each_rank_trains_on_its_own_block_only"),
    # Forged: no collective at all; every rank trains on the whole batch it was given through
    # model.linear, then shows the model only its own block.
    "torch_full_batch_through_the_linear_layer_then_its_block_shown": ("distributed_torch", """
        def train(model, x, y, learning_rate, num_steps):
            for _ in range(num_steps):
                model.zero_grad()
                ((model.linear(x) - y) ** 2).mean().backward()
                with torch.no_grad():
                    for parameter in model.parameters():
                        parameter -= learning_rate * parameter.grad
            x_shard, _ = shard_batch(x, y, dist.get_rank(), dist.get_world_size())
            with torch.no_grad():
                model(x_shard)
            return model
    """, "each_rank_trains_on_its_own_block_only"),
    "torch_learning_rate_scaled_by_world_size": ("distributed_torch", """
        def train(model, x, y, learning_rate, num_steps):
            world_size = dist.get_world_size()
            x_shard, y_shard = shard_batch(x, y, dist.get_rank(), world_size)
            step = make_train_step(model, learning_rate * world_size)
            for _ in range(num_steps):
                step(x_shard, y_shard)
            return model
    """, "training_matches_full_batch_gradient_descent"),
    "jax_loss_summed_over_devices": ("distributed_jax", """
        def make_train_step(mesh, learning_rate):
            def device_step(params, x_block, y_block):
                def total_loss(params):
                    return jax.lax.psum(block_loss(params, x_block, y_block), "data")
                loss, grads = jax.value_and_grad(total_loss)(params)
                return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), loss
            return jax.jit(jax.shard_map(device_step, mesh=mesh,
                                         in_specs=(P(), P("data"), P("data")),
                                         out_specs=(P(), P())))
    """, "data_parallel_steps_match_full_batch_gradient_descent"),
    "jax_gradients_pmeaned_after_shard_map_summed_them": ("distributed_jax", """
        def make_train_step(mesh, learning_rate):
            def device_step(params, x_block, y_block):
                loss, grads = jax.value_and_grad(block_loss)(params, x_block, y_block)
                grads = jax.lax.pmean(grads, "data")
                loss = jax.lax.pmean(loss, "data")
                return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), loss
            return jax.jit(jax.shard_map(device_step, mesh=mesh,
                                         in_specs=(P(), P("data"), P("data")),
                                         out_specs=(P(), P())))
    """, "data_parallel_steps_match_full_batch_gradient_descent"),
    "jax_no_cross_device_reduction": ("distributed_jax", """
        def make_train_step(mesh, learning_rate):
            def device_step(params, x_block, y_block):
                loss, grads = jax.value_and_grad(block_loss)(params, x_block, y_block)
                return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), loss
            return jax.jit(jax.shard_map(device_step, mesh=mesh,
                                         in_specs=(P(), P("data"), P("data")),
                                         out_specs=(P(), P()), check_vma=False))
    """, "every_device_steps_with_the_gradient_combined_over_all_devices"),
    # Forged: the step gathers the batch and the params to one device (correct values when the
    # replicas agree), and hands the probe an honest step's `lower` to read the HLO from.
    "jax_gathered_step_with_a_borrowed_compiled_text": ("distributed_jax", """
        import numpy as np

        _honest_step = make_train_step

        def make_train_step(mesh, learning_rate):
            replicated = NamedSharding(mesh, P())

            def step(params, x, y):
                params = jax.tree.map(lambda a: jnp.asarray(np.asarray(a)), params)
                x, y = jnp.asarray(np.asarray(x)), jnp.asarray(np.asarray(y))
                loss, grads = jax.value_and_grad(block_loss)(params, x, y)
                new = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
                return jax.device_put((new, loss), replicated)

            class Step:
                lower = staticmethod(_honest_step(mesh, learning_rate).lower)
                __call__ = staticmethod(step)

            return Step()
    """, "every_device_steps_with_the_gradient_combined_over_all_devices"),
    # the loss read as a sum over each row's outputs, averaged over the rows: it differs from
    # the mean over all elements on every drawn problem (two outputs or more)
    "jax_loss_summed_over_each_rows_outputs": ("distributed_jax", """
        def block_loss(params, x_block, y_block):
            squared_errors = (predict(params, x_block) - y_block) ** 2
            return jnp.mean(jnp.sum(squared_errors, axis=1))
    """, "data_parallel_steps_match_full_batch_gradient_descent"),
    "jax_unsharded_inputs": ("distributed_jax", """
        def shard_batch(x, y, mesh):
            return jnp.asarray(x), jnp.asarray(y)
    """, "each_device_holds_its_own_contiguous_block_of_the_batch"),
    "jax_learning_rate_scaled_by_device_count": ("distributed_jax", """
        _make_train_step = make_train_step

        def train(params, x, y, mesh, learning_rate, num_steps):
            x, y = shard_batch(x, y, mesh)
            step = _make_train_step(mesh, learning_rate * mesh.devices.size)
            for _ in range(num_steps):
                params, _ = step(params, x, y)
            return params
    """, "training_matches_full_batch_gradient_descent"),
}

ALTERNATIVES = {
    # DDP around the linear layer, called directly: nothing may depend on model.forward
    "torch_distributed_data_parallel": ("distributed_torch", """
        from torch.nn.parallel import DistributedDataParallel

        def make_train_step(model, learning_rate):
            ddp_model = DistributedDataParallel(model.linear)
            optimizer = torch.optim.SGD(ddp_model.parameters(), lr=learning_rate)

            def step(x_shard, y_shard):
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(ddp_model(x_shard), y_shard)
                loss.backward()
                optimizer.step()
                return loss.item()

            return step
    """),
    "jax_jit_on_sharded_inputs": ("distributed_jax", """
        def make_train_step(mesh, learning_rate):
            replicated, rows = NamedSharding(mesh, P()), NamedSharding(mesh, P("data"))

            def step(params, x, y):
                loss, grads = jax.value_and_grad(block_loss)(params, x, y)
                return jax.tree.map(lambda p, g: p - learning_rate * g, params, grads), loss

            return jax.jit(step, in_shardings=(replicated, rows, rows),
                           out_shardings=(replicated, replicated))
    """),
}

RANK_DIES = """
    _make_train_step = make_train_step

    def make_train_step(model, learning_rate):
        inner = _make_train_step(model, learning_rate)

        def step(x_shard, y_shard):
            if dist.get_rank() == 1:
                import os
                os._exit(3)
            return inner(x_shard, y_shard)

        return step
"""
RANK_SKIPS_A_COLLECTIVE = """
    def average_gradients(model):
        if dist.get_rank() == 1:
            import time
            time.sleep(600)  # never joins the all_reduce that rank 0 waits in
        for parameter in model.parameters():
            dist.all_reduce(parameter.grad)
            parameter.grad /= dist.get_world_size()
"""
RANKED_CHECKS = ("data_parallel_steps_match_full_batch_gradient_descent",
                 "training_matches_full_batch_gradient_descent")


def statuses(report):
    return {check["name"]: check["status"] for check in report["checks"]}


FAST_VARIANT = "jax_unsharded_inputs"  # the default run's variant: no ranks to start


@pytest.mark.parametrize("variant", [  # ranks start in every call: 10 to 35 s a variant
    variant if variant == FAST_VARIANT else pytest.param(variant, marks=pytest.mark.slow)
    for variant in sorted(VARIANTS)])
def test_a_buggy_variant_fails_its_named_check(variant, grade_json, learner_file, only_checks):
    item_id, override, check_name = VARIANTS[variant]
    only_checks(f"test_{check_name}")  # the variant's named check alone: ranks start slowly
    path = learner_file(item_id, extra=textwrap.dedent(override))
    code, report = grade_json(item_id, "--file", path)
    status = statuses(report)
    assert code == 1, f"{variant}: exit {code}"
    assert check_name in status, f"{variant}: no check named {check_name}: {sorted(status)}"
    assert status[check_name] == "failed", (
        f"{variant}: {check_name} was {status[check_name]}, expected failed: {report['checks']}")


@pytest.mark.slow  # every check of the item, ranks started in several
@pytest.mark.parametrize("alternative", sorted(ALTERNATIVES))
def test_a_correct_solution_written_the_other_way_passes(alternative, grade_json, learner_file):
    item_id, override = ALTERNATIVES[alternative]
    path = learner_file(item_id, extra=textwrap.dedent(override))
    code, report = grade_json(item_id, "--file", path)
    failing = {name: status for name, status in statuses(report).items() if status != "passed"}
    assert code == 0 and not failing, f"{alternative}: exit {code}, {failing}: {report['checks']}"


def own_children():
    """Pids whose parent is this process (grading adopts orphans, so leftovers land here)."""
    me, found = str(os.getpid()), []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except (OSError, ValueError):
            continue
        if entry.isdigit() and fields[1] == me:
            found.append(int(entry))
    return found


@pytest.mark.parametrize("failure, verdict, cause", [
    (RANK_DIES, "crashed", "rank 1 "),
    pytest.param(RANK_SKIPS_A_COLLECTIVE, "timeout", "A collective did not complete",
                 marks=pytest.mark.slow),  # waits out a collective in every ranked check
], ids=["a_rank_dies", "a_rank_hangs"])
def test_a_rank_that_dies_or_hangs_ends_the_check_and_leaves_nothing_behind(
        failure, verdict, cause, grade_json, learner_file):
    """Promptly, stated so that it holds on a busy machine: the launch stops the ranks as soon
    as one dies or a collective gives up (the message names that cause), so no ranked call
    comes near the ranks' deadline, and the run never waits past its checks' own limits."""
    children_before = set(own_children())
    path = learner_file("distributed_torch", extra=textwrap.dedent(failure))
    started = time.monotonic()
    code, report = grade_json("distributed_torch", "--file", path)
    elapsed = time.monotonic() - started
    status = statuses(report)
    assert code == 1, f"exit {code}: {report['checks']}"
    for check in report["checks"]:
        if check["name"] in RANKED_CHECKS:
            assert check["status"] == verdict and cause in check["message"], (
                f"{check['name']} was {check['status']}, expected {verdict} naming {cause!r}: "
                f"{check}")
            assert check["time_s"] < RANKS_DEADLINE_S, (
                f"{check['name']} took {check['time_s']} s: the ranks were stopped at the "
                f"deadline ({RANKS_DEADLINE_S:g} s), not when one failed")
    assert set(RANKED_CHECKS) <= set(status), f"ranked checks missing: {sorted(status)}"
    limits = sum(check["limit_s"] or 0 for check in report["checks"])
    assert elapsed < limits, f"grading took {elapsed:.0f} s, more than its checks' limits"
    left = set(own_children()) - children_before
    assert not left, f"processes left behind after grading: {sorted(left)}"


LAUNCH_THEN_WAIT = """
import importlib.util, json, sys
import numpy as np

def import_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module

probes = import_file("distributed_torch_probes", sys.argv[1])
target = import_file("distributed_torch", sys.argv[2])
x = np.arange(8, dtype=np.float32).reshape(4, 2) / 8  # (batch, in_features)
y = x[:, :1] - x[:, 1:]  # (batch, out_features)
outcome = probes.steps_on_ranks(
    target, "cpu", weight=np.ones((1, 2), np.float32), bias=np.zeros(1, np.float32), x=x, y=y,
    learning_rate=0.1, num_steps=1, world_size=2, collective_timeout_s=2.0,
    startup_timeout_s=240.0, deadline_s=300.0)  # wide: ranks start slowly on a busy machine
print(json.dumps({"outcome": outcome["outcome"], "port": outcome["port"]}), flush=True)
sys.stdin.read()  # stay alive, as a worker outlives every launch of its session
"""


def test_a_launch_frees_its_rendezvous_port_when_a_rank_hangs(learner_file, tmp_path):
    """The probe runs in a child interpreter that stays alive after the launch (as a worker
    does), so a store it failed to close would still listen on the port it reports. A child,
    not this process: importing torch here would change what later tests measure."""
    probes = os.path.join(ROOT, "grader", "suites", "distributed_torch", "probes.py")
    path = learner_file("distributed_torch", extra=textwrap.dedent(RANK_SKIPS_A_COLLECTIVE))
    errors = open(tmp_path / "child.stderr", "w+")
    child = subprocess.Popen([sys.executable, "-c", LAUNCH_THEN_WAIT, probes, str(path)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                             text=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=ROOT))
    try:
        lines = iter(child.stdout.readline, "")
        line = next((line for line in lines if line.startswith("{")), "")
        errors.seek(0)
        assert line, f"the launch printed no outcome (exit {child.poll()}): {errors.read()[-3000:]}"
        outcome = json.loads(line)
        assert outcome["outcome"] == "collective", outcome
        # The sockets of this child and of whatever it started, not the machine's: another
        # program may listen on any port, this launch's own store may not.
        held = listening_ports([child.pid, *descendants(child.pid)])
        assert outcome["port"] not in held, (
            f"the rendezvous port {outcome['port']} still listens after the launch ended")
    finally:
        errors.close()
        child.stdin.close()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@pytest.mark.slow  # four whole gradings
def test_references_pass_and_every_check_of_a_stub_is_not_implemented():
    bank = Bank()
    for item_id in ("distributed_torch", "distributed_jax"):
        reference = judge.grade(bank, item_id, bank.solution_file(item_id), device="cpu")
        assert reference.status == "passed", f"{item_id} reference: {reference.checks}"
        with bank_stub(bank, item_id) as graded:  # the bank's stub, not a learner's edits
            stub = judge.grade(bank, item_id, graded.path, device="cpu")
        not_done = {check.name: check.status for check in stub.checks
                    if check.status != "not_implemented"}
        assert stub.status == "failed" and stub.checks and not not_done, (
            f"{item_id} stub: {not_done or stub.checks}")
