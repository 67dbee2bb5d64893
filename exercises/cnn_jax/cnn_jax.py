"""A small CNN for 8x8 digit images in JAX.

Fill in the functions below; the statement (README.md next to this file) fixes the network,
its parameter names and shapes, and says how each task is checked. Images are NHWC
(batch, 8, 8, 1), kernels HWIO, dense weights (in, out); everything is float32, labels int32.
Grade with `grade exercise cnn_jax`.
"""

import functools

import jax
import jax.numpy as jnp
import optax


def build_model(key):
    """Task 1. Fresh parameters of the network, drawn from `key`.

    Give every array its own key (jax.random.split); never draw two arrays from one key.

    Args:
        key: a jax.random key.

    Returns:
        {"conv1": {"weight": (3, 3, 1, 16), "bias": (16,)},
         "conv2": {"weight": (3, 3, 16, 32), "bias": (32,)},
         "fc1": {"weight": (128, 64), "bias": (64,)},
         "fc2": {"weight": (64, 10), "bias": (10,)}}, float32 arrays.
    """
    # TODO: split the key into one key per array and draw each array with jax.random.
    raise NotImplementedError


def forward(params, images):
    """Task 2. The network's logits.

    conv1 (3x3, padding 1) -> ReLU -> 2x2 max-pool -> conv2 (3x3, padding 1) -> ReLU ->
    2x2 max-pool -> flatten (height, width, channel) -> fc1 -> ReLU -> fc2.

    Args:
        params: a dict shaped like build_model's result.
        images: float32 array of shape (batch, 8, 8, 1).

    Returns:
        float32 array of shape (batch, 10): the logits.
    """
    # TODO: jax.lax.conv_general_dilated with dimension_numbers ("NHWC", "HWIO", "NHWC"),
    #   jax.lax.reduce_window for the pooling, then the two dense layers.
    raise NotImplementedError


def loss_and_grads(params, images, labels):
    """Task 3. The mean cross-entropy of the logits and its gradients.

    Args:
        params: a dict shaped like build_model's result.
        images: float32 array of shape (batch, 8, 8, 1).
        labels: int32 array of shape (batch,), values in 0..9.

    Returns:
        (loss, grads): loss a 0-d array, grads a dict shaped like params.
    """
    # TODO: a loss function of (params, images, labels), then jax.value_and_grad.
    raise NotImplementedError


def make_optimizer(learning_rate):
    """Task 4. Adam with this learning rate and optax's default betas and epsilon.

    Returns:
        an optax.GradientTransformation.
    """
    # TODO: optax.adam
    raise NotImplementedError


# TODO: jit-compile train_step with the optimizer as a static argument:
#   @functools.partial(jax.jit, static_argnums=0)
def train_step(optimizer, params, opt_state, images, labels):
    """Task 4. One Adam step on a batch, as a pure jit-compiled function.

    Args:
        optimizer: make_optimizer's result (a static argument under jit).
        params: a dict shaped like build_model's result.
        opt_state: optimizer.init(params), or the previous step's opt_state.
        images: float32 array of shape (batch, 8, 8, 1).
        labels: int32 array of shape (batch,).

    Returns:
        (params, opt_state, loss): the new params and optimizer state, and the 0-d loss of the
        params that were given (before the update).
    """
    # TODO: loss_and_grads, optimizer.update(grads, opt_state, params), optax.apply_updates.
    raise NotImplementedError


def train(key, images, labels):
    """Task 5. Train fresh parameters on the digits' training split.

    Choose your own learning rate, batch size and number of epochs; shuffle with a fresh key
    (jax.random.split) every epoch and use your own make_optimizer and train_step.

    Args:
        key: a jax.random key.
        images: float32 array of shape (num_examples, 8, 8, 1), values in [0, 1].
        labels: int32 array of shape (num_examples,), values in 0..9.

    Returns:
        The trained params, shaped like build_model's result.
    """
    # TODO: build params, optimizer.init, then epochs of shuffled minibatch train_steps.
    raise NotImplementedError


def predict(params, images):
    """Task 5. The logits for a batch of images (the grader takes their argmax).

    Args:
        params: a dict shaped like build_model's result.
        images: float32 array of shape (batch, 8, 8, 1).

    Returns:
        float32 array of shape (batch, 10).
    """
    # TODO: the forward pass (jit it if you like).
    raise NotImplementedError
