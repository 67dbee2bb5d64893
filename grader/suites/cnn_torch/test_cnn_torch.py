"""Hidden suite for cnn_torch.

Each check runs one probe on the learner's module and on the reference solution with the same
freshly drawn inputs, and compares the two results here. Weights are drawn in PyTorch's layout
(OIHW kernels, (out, in) linear weights, fc1 reading a (channel, height, width) flatten, bn1's
running statistics away from 0 and 1) by grader/topics/cnn.py and loaded with load_state_dict.
A model that cannot load them is described once, in the learner's terms, by the first check;
the others only refer to it.

1. build_model's state_dict has the reference's names, shapes, parameter count and dtypes.
2. forward matches the reference for given weights: in evaluation mode (batch sizes 1, 2..16,
   17..128) with the running statistics left as they were, and in training mode (2..16,
   17..128) with the running statistics moved by the reference's momentum step.
3. loss_and_grads matches the reference's loss and every gradient, on two calls on one model.
4. One Adam step and three consecutive steps with one optimizer match the reference's weights,
   running statistics and losses (a missing zero_grad leaks gradients across steps).
5. train's model reaches 95% accuracy on the held-out digits: the reference's forward pass runs
   in evaluation mode on the trained weights and running statistics, and the argmax is scored
   here (the held-out digits never reach the learner's worker). predict, given a model left in
   training mode, switches to evaluation mode (the reference's logits, statistics unchanged),
   runs the model with autograd off and returns logits that need no grad. The threshold: with
   bn1 the reference reached 98.9% to 99.7% over 12 seeds (benchmarks/cnn_training.py, busy
   2-core machine), 10 epochs at 1e-3 reached 97.8% to 99.4% over 4; 95% leaves about 4 points.

A run's batch sizes (1, one in 2..16, one in 17..128) come from `run_rng`: every check of the
run uses those three (a check that needs one picks among them), and the Adam checks share the
largest and one learning rate, as in the JAX twin, where this keeps the programs a worker
compiles few. The values inside the arrays are fresh for every check.
"""

import pytest

from grader.expect import expect_close
from grader.topics.cnn import (
    BATCHES_TRACKED,
    STATISTICS,
    adam_strays_note,
    check_training,
    digits_split,
    draw_batch_sizes,
    draw_images,
    draw_labels,
    draw_run_steps,
    draw_weights,
    describe_load_mismatch,
    expect_adam_weights_close,
    expect_arrays_close,
    expect_count_and_dtypes,
    expect_evaluation_logits,
    expect_statistics_kept,
    expect_statistics_updated,
    pick_batch_size,
    torch_images,
)
from grader.topics.common import draw_seed
from grader.verdicts import InternalFault

LAYOUT_HINT = "kernels are OIHW (out, in, height, width), linear weights (out, in)"


def draw_batch(rng, batch):
    return torch_images(draw_images(rng, batch)), draw_labels(rng, batch)


def without_counter(state):
    return {name: array for name, array in state.items() if name != BATCHES_TRACKED}


def given_statistics(weights):
    return {name: weights[name] for name in STATISTICS}


def forward_in_mode(workers, rng, batch, train):
    """forward(model, images) on both sides, the model in the given mode; (weights, call,
    want, got)."""
    weights = draw_weights(rng)
    images = torch_images(draw_images(rng, batch))
    want, got = workers.both("forward_pass", weights=weights, images=images, train=train)
    mode = "model.train()" if train else "model.eval()"
    return weights, f"{mode}; forward(model, images.shape={images.shape})", want, got


def check_adam_steps(workers, rng, run_rng, tol, steps):
    weights = draw_weights(rng)
    batch, learning_rate = draw_run_steps(run_rng)  # the run's, as in the JAX twin
    batches = [draw_batch(rng, batch) for _ in range(steps)]
    want, got = workers.both("adam_steps", weights=weights, batches=batches,
                             learning_rate=learning_rate)
    call = (f"train_step(optimizer, model, images, labels) with "
            f"optimizer = make_optimizer(model, {learning_rate:.4g})")
    if steps > 1:
        call = f"{call}, {steps} times on one model and optimizer, a new batch each time"
    # bn1.num_batches_tracked is left out: nothing reads it, and F.batch_norm does not count
    strays = expect_adam_weights_close(without_counter(got["weights"]),
                                       without_counter(want["weights"]), call,
                                       "state_dict()[{name!r}]", tol, learning_rate, steps)
    losses = "the returned loss" if steps == 1 else "the returned losses, in order"
    expect_close(got["losses"], want["losses"], f"{call}: {losses}", rtol=tol.rtol, atol=tol.atol)
    if strays:
        workers.note(adam_strays_note(strays))


# --- task 1: the model ---------------------------------------------------------------------------


@pytest.mark.task(1)
def test_state_dict_has_the_stated_names_and_shapes(workers):
    want, got = workers.both("parameter_shapes")
    mismatch = describe_load_mismatch(got["shapes"], want["shapes"], got["fc1_inputs"])
    if mismatch:
        raise AssertionError(
            f"Called `build_model().state_dict()`. It does not match the statement's table: "
            f"{mismatch} ({LAYOUT_HINT}). Every check that loads given weights fails for this "
            f"reason alone.")


@pytest.mark.task(1)
def test_parameter_count_and_dtype_match_the_reference(workers):
    want, got = workers.both("parameter_shapes")
    expect_count_and_dtypes(got, want, "build_model()")


# --- task 2: the forward pass --------------------------------------------------------------------


@pytest.mark.task(2)
def test_logits_match_the_reference_in_evaluation_mode(workers, rng, run_rng, tol):
    for batch in draw_batch_sizes(run_rng):
        _, call, want, got = forward_in_mode(workers, rng, batch, train=False)
        expect_close(got["logits"], want["logits"], f"{call} (bn1 reads the running statistics)",
                     rtol=tol.rtol, atol=tol.atol)


@pytest.mark.task(2)
def test_evaluation_mode_leaves_the_running_statistics_unchanged(workers, rng, run_rng):
    weights, call, want, got = forward_in_mode(workers, rng, pick_batch_size(rng, run_rng),
                                               train=False)
    expect_statistics_kept(want["statistics"], given_statistics(weights), call, "")
    expect_statistics_kept(got["statistics"], given_statistics(weights), call,
                           "nn.BatchNorm2d does this by itself when the module is in eval mode.")


@pytest.mark.task(2)
def test_logits_match_the_reference_in_training_mode(workers, rng, run_rng, tol):
    # a batch of one has no batch statistics to speak of
    for batch in draw_batch_sizes(run_rng)[1:]:
        _, call, want, got = forward_in_mode(workers, rng, batch, train=True)
        expect_close(got["logits"], want["logits"],
                     f"{call} (bn1 reads the batch's mean and biased variance)",
                     rtol=tol.rtol, atol=tol.atol)


@pytest.mark.task(2)
def test_training_mode_forward_updates_the_running_statistics(workers, rng, run_rng, tol):
    weights, call, want, got = forward_in_mode(workers, rng, pick_batch_size(rng, run_rng),
                                               train=True)
    expect_statistics_updated(got["statistics"], want["statistics"], given_statistics(weights),
                              call, rtol=tol.rtol, atol=tol.atol,
                              fix="nn.BatchNorm2d(16) (momentum 0.1) does this in train mode.")


# --- task 3: loss and gradients ------------------------------------------------------------------


@pytest.mark.task(3)
def test_loss_and_gradients_match_the_reference_on_two_calls(workers, rng, run_rng, tol):
    weights = draw_weights(rng)
    images, labels = draw_batch(rng, pick_batch_size(rng, run_rng))
    want, got = workers.both("loss_and_grads", weights=weights, images=images, labels=labels,
                             calls=2)
    for which, (want_call, got_call) in enumerate(zip(want, got), start=1):
        call = (f"loss_and_grads(model, images.shape={images.shape}, "
                f"labels.shape={labels.shape})")
        call = call if which == 1 else f"{call} a second time on the same model"
        expect_close(got_call["loss"], want_call["loss"], f"{call}: the loss", rtol=tol.rtol,
                     atol=tol.atol)
        expect_arrays_close(got_call["grads"], want_call["grads"], call, "grads[{name!r}]",
                            rtol=tol.rtol, atol=tol.atol)


# --- task 4: Adam steps --------------------------------------------------------------------------


@pytest.mark.task(4)
def test_one_adam_step_matches_the_reference(workers, rng, run_rng, tol):
    check_adam_steps(workers, rng, run_rng, tol, steps=1)


@pytest.mark.task(4)
def test_gradients_do_not_leak_across_adam_steps(workers, rng, run_rng, tol):
    check_adam_steps(workers, rng, run_rng, tol, steps=3)


# --- task 5: training and evaluation -------------------------------------------------------------


@pytest.mark.task(5)
def test_training_reaches_the_stated_accuracy_on_held_out_digits(workers, rng):
    train_images, train_labels, test_images, test_labels = digits_split()
    seed = draw_seed(rng)
    inputs = {"seed": seed, "train_images": torch_images(train_images),
              "train_labels": train_labels}
    call = (f"torch.manual_seed({seed}); train(images.shape={inputs['train_images'].shape}, "
            f"labels)")
    check_training(workers, "trained_weights", inputs, call, torch_images(test_images),
                   test_labels, to_weights=lambda state: {"weights": state, "train": False})


@pytest.mark.task(5)
def test_predict_runs_in_evaluation_mode_with_the_running_statistics(workers, rng, run_rng, tol):
    weights = draw_weights(rng)
    images = torch_images(draw_images(rng, pick_batch_size(rng, run_rng)))
    want, got = workers.both("predictions", weights=weights, images=images)
    call = (f"predict(model, images.shape={images.shape}) on a model in training mode, as "
            f"train leaves it")
    expect_evaluation_logits(
        got["logits"], want["logits"],
        lambda: workers.reference("logits", weights=weights, images=images, train=True), call,
        tol, "Call model.eval() in predict before running the model.")
    expect_statistics_kept(got["statistics"], given_statistics(weights), call,
                           "Call model.eval() in predict before running the model.")


@pytest.mark.task(5)
def test_evaluation_builds_no_graph(workers, rng, run_rng):
    images = torch_images(draw_images(rng, pick_batch_size(rng, run_rng)))
    want, got = workers.both("evaluation_graph", weights=draw_weights(rng), images=images)
    if want["grad_enabled"] or want["requires_grad"] or not want["layers_ran"]:
        raise InternalFault(f"the reference's predict gave {want}")
    call = f"predict(model, images.shape={images.shape})"
    if not got["layers_ran"]:
        raise AssertionError(f"Called `{call}`. None of the model's modules ran: predict must "
                             f"call the model it is given.")
    if got["grad_enabled"] or got["requires_grad"] or got["has_graph"]:
        raise AssertionError(
            f"Called `{call}`. The model ran with autograd on (torch.is_grad_enabled() was "
            f"{got['grad_enabled']} inside its layers; the logits' requires_grad is "
            f"{got['requires_grad']}): evaluation built a graph nobody needs. Run the model "
            f"under torch.inference_mode() or torch.no_grad(); .detach() afterwards is too late.")
