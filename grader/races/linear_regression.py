"""Race adapter for linear regression: one full-batch gradient-descent step (`sgd_step`)."""

import numpy as np

STEPS = 500  # the references' fit() takes 500 steps
NUM_EXAMPLES, IN_FEATURES, OUT_FEATURES = 1024, 64, 8
LEARNING_RATE = 0.1


def inputs(rng):
    x = rng.standard_normal((NUM_EXAMPLES, IN_FEATURES)).astype(np.float32)
    true_weight = rng.standard_normal((IN_FEATURES, OUT_FEATURES)).astype(np.float32)
    y = (x @ true_weight).astype(np.float32)  # (num_examples, out_features)
    return x, y


def torch_step(reference, device, x, y):
    from grader.probekit import to_torch

    model = reference.build_model(IN_FEATURES, OUT_FEATURES).to(device)
    x, y = to_torch(x, device), to_torch(y, device)
    return lambda: reference.sgd_step(model, x, y, LEARNING_RATE)


def jax_step(reference, device, x, y):
    import jax

    from grader.probekit import to_jax

    state = {"params": reference.build_model(jax.random.key(0), IN_FEATURES, OUT_FEATURES)}
    x, y = to_jax(x, device), to_jax(y, device)
    step = jax.jit(reference.sgd_step)  # as the reference's fit() does

    def run():
        state["params"], loss = step(state["params"], x, y, LEARNING_RATE)
        return state["params"], loss

    return run
