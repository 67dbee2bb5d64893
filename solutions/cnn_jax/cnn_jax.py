"""A small CNN for 8x8 digit images in JAX (reference solution).

Parameters are a dict of arrays in JAX's layouts (images NHWC, kernels HWIO, dense weights
(in, out)), the network is a pure function built on `jax.lax.conv_general_dilated` and
`jax.lax.reduce_window`, and training uses `optax.adam` with a jit-compiled step. Everything is
float32.
"""

import functools
import math

import jax
import jax.numpy as jnp
import optax

NUM_CLASSES = 10
LEARNING_RATE = 5e-3
BATCH_SIZE = 64
NUM_EPOCHS = 20
CONV_DIMENSIONS = ("NHWC", "HWIO", "NHWC")  # images, kernels, outputs

# name: (shape, fan_in); every array is drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch
PARAMETER_SHAPES = {
    "conv1": {"weight": ((3, 3, 1, 16), 9), "bias": ((16,), 9)},
    "conv2": {"weight": ((3, 3, 16, 32), 144), "bias": ((32,), 144)},
    "fc1": {"weight": ((128, 64), 128), "bias": ((64,), 128)},
    "fc2": {"weight": ((64, 10), 64), "bias": ((10,), 64)},
}


def build_model(key):
    names = [(layer, name) for layer, arrays in PARAMETER_SHAPES.items() for name in arrays]
    keys = jax.random.split(key, len(names))  # (8,): one fresh key per array, none reused
    params = {layer: {} for layer in PARAMETER_SHAPES}
    for array_key, (layer, name) in zip(keys, names):
        shape, fan_in = PARAMETER_SHAPES[layer][name]
        bound = 1.0 / math.sqrt(fan_in)
        params[layer][name] = jax.random.uniform(
            array_key, shape, minval=-bound, maxval=bound
        )  # shape as listed above
    return params


def conv_relu_pool(layer, x):
    x = jax.lax.conv_general_dilated(
        x, layer["weight"], window_strides=(1, 1), padding=((1, 1), (1, 1)),
        dimension_numbers=CONV_DIMENSIONS,
    )  # (batch, height, width, out_channels)
    x = jax.nn.relu(x + layer["bias"])  # (batch, height, width, out_channels)
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, window_dimensions=(1, 2, 2, 1),
        window_strides=(1, 2, 2, 1), padding="VALID",
    )  # (batch, height // 2, width // 2, out_channels)


def forward(params, images):
    x = conv_relu_pool(params["conv1"], images)  # (batch, 4, 4, 16)
    x = conv_relu_pool(params["conv2"], x)  # (batch, 2, 2, 32)
    x = x.reshape(x.shape[0], -1)  # (batch, 128), flattened in (height, width, channel) order
    x = jax.nn.relu(x @ params["fc1"]["weight"] + params["fc1"]["bias"])  # (batch, 64)
    return x @ params["fc2"]["weight"] + params["fc2"]["bias"]  # (batch, 10) logits


def loss_fn(params, images, labels):
    logits = forward(params, images)  # (batch, 10)
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # (batch,)
    return jnp.mean(losses)  # ()


def loss_and_grads(params, images, labels):
    return jax.value_and_grad(loss_fn)(params, images, labels)  # (), a pytree shaped like params


def make_optimizer(learning_rate):
    return optax.adam(learning_rate)


@functools.partial(jax.jit, static_argnums=0)
def train_step(optimizer, params, opt_state, images, labels):
    loss, grads = loss_and_grads(params, images, labels)  # (), shaped like params
    updates, opt_state = optimizer.update(grads, opt_state, params)  # shaped like params
    params = optax.apply_updates(params, updates)  # shaped like params
    return params, opt_state, loss


@jax.jit
def take_batch(images, labels, order, batch):
    indices = jax.lax.dynamic_slice_in_dim(order, batch * BATCH_SIZE, BATCH_SIZE)  # (BATCH_SIZE,)
    return images[indices], labels[indices]  # (BATCH_SIZE, 8, 8, 1), (BATCH_SIZE,)


def train(key, images, labels):
    init_key, shuffle_key = jax.random.split(key)  # two new keys, each of shape ()
    params = build_model(init_key)  # shaped as PARAMETER_SHAPES
    optimizer = make_optimizer(LEARNING_RATE)
    # Adam's moments, shaped like params, on the data's device: an uncommitted step count would
    # make train_step compile a second time once the first step's outputs come back committed
    opt_state = jax.device_put(optimizer.init(params), images.sharding)
    num_batches = images.shape[0] // BATCH_SIZE  # the last partial batch is dropped
    for _ in range(NUM_EPOCHS):
        shuffle_key, epoch_key = jax.random.split(shuffle_key)  # a fresh key every epoch
        order = jax.random.permutation(epoch_key, images.shape[0])  # (num_examples,)
        for batch in range(num_batches):
            batch_images, batch_labels = take_batch(images, labels, order, batch)  # one dispatch
            params, opt_state, _ = train_step(
                optimizer, params, opt_state, batch_images, batch_labels
            )  # compiled once, reused for every batch of the same shape
    return params


@jax.jit
def predict(params, images):
    return forward(params, images)  # (batch, 10) logits
