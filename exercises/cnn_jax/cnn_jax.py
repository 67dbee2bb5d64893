"""A small CNN for 8x8 digit images in JAX.

Fill in the functions below; the statement (README.md next to this file) fixes the network,
its parameter names and shapes, the batch-normalisation numbers (epsilon 1e-5, momentum 0.1,
biased batch variance, unbiased running variance), and says how each task is checked. Images
are NHWC (batch, 8, 8, 1), kernels HWIO, dense weights (in, out); everything is float32, labels
int32. bn1's running statistics live in `state`, apart from `params`: a function that updates
them returns a new state and never writes into the dicts it was given. Grade with
`grade exercise cnn_jax`.
"""

import functools

import jax
import jax.numpy as jnp
import optax


def build_model(key):
    """Task 1. Fresh parameters of the network, drawn from `key`, and bn1's initial state.

    Give every random array its own key (jax.random.split); never draw two arrays from one key.

    Args:
        key: a jax.random key.

    Returns:
        (params, state), float32 arrays:
        params {"conv1": {"weight": (3, 3, 1, 16)},
                "bn1": {"weight": (16,) ones, "bias": (16,) zeros},
                "conv2": {"weight": (3, 3, 16, 32), "bias": (32,)},
                "fc1": {"weight": (128, 64), "bias": (64,)},
                "fc2": {"weight": (64, 10), "bias": (10,)}};
        state {"bn1": {"running_mean": (16,) zeros, "running_var": (16,) ones}}.
    """
    # TODO: split the key into one key per random array and draw each with jax.random; bn1's
    #   arrays and the state start at ones and zeros.
    raise NotImplementedError


def forward(params, state, images, train):
    """Task 2. The network's logits, and the state after the pass.

    conv1 (3x3, padding 1, no bias) -> bn1 -> ReLU -> 2x2 max-pool -> conv2 (3x3, padding 1)
    -> ReLU -> 2x2 max-pool -> flatten (height, width, channel) -> fc1 -> ReLU -> fc2.

    Args:
        params: a dict shaped like build_model's params.
        state: a dict shaped like build_model's state (bn1's running statistics).
        images: float32 array of shape (batch, 8, 8, 1).
        train: a Python bool (static under jax.jit). True: bn1 normalises with the batch's mean
            and biased variance, and the returned state holds the updated running statistics.
            False: bn1 normalises with state's running statistics, returned unchanged.

    Returns:
        (logits, state): float32 logits of shape (batch, 10), and a new state dict (never the
        given one written into).
    """
    # TODO: jax.lax.conv_general_dilated with dimension_numbers ("NHWC", "HWIO", "NHWC"),
    #   batch normalisation (if train: ... else: ...), jax.lax.reduce_window for the pooling,
    #   then the two dense layers.
    raise NotImplementedError


def loss_and_grads(params, state, images, labels):
    """Task 3. The mean cross-entropy of the train=True logits, the new state, and the loss's
    gradients.

    Args:
        params: a dict shaped like build_model's params.
        state: a dict shaped like build_model's state.
        images: float32 array of shape (batch, 8, 8, 1).
        labels: int32 array of shape (batch,), values in 0..9.

    Returns:
        ((loss, state), grads): loss a 0-d array, state the forward pass's new state, grads a
        dict shaped like params.
    """
    # TODO: a loss function of (params, state, images, labels) returning (loss, new_state),
    #   then jax.value_and_grad(..., has_aux=True).
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
def train_step(optimizer, params, state, opt_state, images, labels):
    """Task 4. One Adam step on a batch, as a pure jit-compiled function.

    Args:
        optimizer: make_optimizer's result (a static argument under jit).
        params: a dict shaped like build_model's params.
        state: a dict shaped like build_model's state, or the previous step's state.
        opt_state: optimizer.init(params), or the previous step's opt_state.
        images: float32 array of shape (batch, 8, 8, 1).
        labels: int32 array of shape (batch,).

    Returns:
        (params, state, opt_state, loss): the new params, the new state (the running statistics
        of this step's train=True pass), the new optimizer state, and the 0-d loss of the
        params that were given (before the update).
    """
    # TODO: loss_and_grads (it gives the new state), optimizer.update(grads, opt_state, params),
    #   optax.apply_updates.
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
        (params, state): the trained params and the running statistics their training left,
        shaped like build_model's result.
    """
    # TODO: build params and state, optimizer.init(params), then epochs of shuffled minibatch
    #   train_steps, each feeding its params, state and opt_state into the next.
    raise NotImplementedError


def predict(params, state, images):
    """Task 5. The train=False logits for a batch of images (the grader takes their argmax):
    bn1 uses state's running statistics.

    Args:
        params: a dict shaped like build_model's params.
        state: a dict shaped like build_model's state.
        images: float32 array of shape (batch, 8, 8, 1).

    Returns:
        float32 array of shape (batch, 10).
    """
    # TODO: the forward pass with train=False, keeping only the logits (jit it if you like).
    raise NotImplementedError
