"""Race adapter for the CNN: one Adam step (`train_step`) on a batch of 64 8x8 images."""

import numpy as np

STEPS = 330  # the references' train(): 15 epochs of 22 batches of 64
BATCH_SIZE = 64


def inputs(rng):
    images = rng.standard_normal((BATCH_SIZE, 1, 8, 8)).astype(np.float32)  # NCHW
    labels = rng.integers(0, 10, BATCH_SIZE)  # (batch,)
    return images, labels


def torch_step(reference, device, images, labels):
    from grader.probekit import to_torch

    model = reference.build_model().to(device)
    optimizer = reference.make_optimizer(model, reference.LEARNING_RATE)
    images, labels = to_torch(images, device), to_torch(labels.astype(np.int64), device)
    return lambda: reference.train_step(optimizer, model, images, labels)


def jax_step(reference, device, images, labels):
    import jax

    from grader.probekit import to_jax

    images = to_jax(images.transpose(0, 2, 3, 1), device)  # NHWC: (batch, 8, 8, 1)
    labels = to_jax(labels.astype(np.int32), device)
    optimizer = reference.make_optimizer(reference.LEARNING_RATE)
    params, statistics = reference.build_model(jax.random.key(0))
    state = {"params": params, "statistics": statistics, "opt_state": optimizer.init(params)}

    def run():  # train_step is jit-compiled by the reference itself
        state["params"], state["statistics"], state["opt_state"], loss = reference.train_step(
            optimizer, state["params"], state["statistics"], state["opt_state"], images, labels)
        return state["params"], loss

    return run
