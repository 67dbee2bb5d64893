"""A small CNN for 8x8 digit images in JAX (reference solution).

Parameters are a dict of arrays in JAX's layouts (images NHWC, kernels HWIO, dense weights
(in, out)); batch normalisation's running statistics live apart from them, in a `state` dict
that every function takes and, when it changes it, returns anew (nothing is mutated). The
network is a pure function built on `jax.lax.conv_general_dilated` and `jax.lax.reduce_window`
with a `train` flag, and training uses `optax.adam` with a jit-compiled step. Everything is
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
MOMENTUM = 0.1  # running = (1 - MOMENTUM) * running + MOMENTUM * batch statistic, as in torch
EPSILON = 1e-5
NUM_CHANNELS = 16  # conv1's outputs, which bn1 normalises

# name: (shape, fan_in); every array is drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) like torch
# (conv1 has no bias: bn1 subtracts the mean right after it)
PARAMETER_SHAPES = {
    "conv1": {"weight": ((3, 3, 1, 16), 9)},
    "conv2": {"weight": ((3, 3, 16, 32), 144), "bias": ((32,), 144)},
    "fc1": {"weight": ((128, 64), 128), "bias": ((64,), 128)},
    "fc2": {"weight": ((64, 10), 64), "bias": ((10,), 64)},
}


def build_model(key):
    names = [(layer, name) for layer, arrays in PARAMETER_SHAPES.items() for name in arrays]
    keys = jax.random.split(key, len(names))  # (7,): one fresh key per array, none reused
    params = {layer: {} for layer in PARAMETER_SHAPES}
    for array_key, (layer, name) in zip(keys, names):
        shape, fan_in = PARAMETER_SHAPES[layer][name]
        bound = 1.0 / math.sqrt(fan_in)
        params[layer][name] = jax.random.uniform(
            array_key, shape, minval=-bound, maxval=bound
        )  # shape as listed above
    params["bn1"] = {"weight": jnp.ones(NUM_CHANNELS), "bias": jnp.zeros(NUM_CHANNELS)}  # (16,)
    state = {"bn1": {"running_mean": jnp.zeros(NUM_CHANNELS),  # (16,)
                     "running_var": jnp.ones(NUM_CHANNELS)}}  # (16,)
    return params, state


def convolve(x, kernel):
    return jax.lax.conv_general_dilated(
        x, kernel, window_strides=(1, 1), padding=((1, 1), (1, 1)),
        dimension_numbers=CONV_DIMENSIONS,
    )  # (batch, height, width, out_channels)


def relu_pool(x):
    return jax.lax.reduce_window(
        jax.nn.relu(x), -jnp.inf, jax.lax.max, window_dimensions=(1, 2, 2, 1),
        window_strides=(1, 2, 2, 1), padding="VALID",
    )  # (batch, height // 2, width // 2, channels)


def batch_norm(layer, statistics, x, train):
    """Normalise each channel of x; in training mode with the batch's statistics, returning
    running statistics moved towards them, in evaluation mode with the running ones, unchanged."""
    if train:
        mean = jnp.mean(x, axis=(0, 1, 2))  # (channels,)
        variance = jnp.var(x, axis=(0, 1, 2))  # (channels,), biased: divides by count
        count = x.size // x.shape[-1]  # batch * height * width values per channel
        statistics = {
            "running_mean": (1 - MOMENTUM) * statistics["running_mean"] + MOMENTUM * mean,
            "running_var": (1 - MOMENTUM) * statistics["running_var"]
            + MOMENTUM * variance * count / (count - 1),  # unbiased, as torch keeps it
        }  # (channels,) each: a new dict, the given one is left as it was
    else:
        mean, variance = statistics["running_mean"], statistics["running_var"]  # (channels,)
    x = (x - mean) / jnp.sqrt(variance + EPSILON)  # (batch, height, width, channels)
    return x * layer["weight"] + layer["bias"], statistics


def forward(params, state, images, train):
    x = convolve(images, params["conv1"]["weight"])  # (batch, 8, 8, 16), no bias
    x, bn1 = batch_norm(params["bn1"], state["bn1"], x, train)  # (batch, 8, 8, 16)
    x = relu_pool(x)  # (batch, 4, 4, 16)
    x = convolve(x, params["conv2"]["weight"]) + params["conv2"]["bias"]  # (batch, 4, 4, 32)
    x = relu_pool(x)  # (batch, 2, 2, 32)
    x = x.reshape(x.shape[0], -1)  # (batch, 128), flattened in (height, width, channel) order
    x = jax.nn.relu(x @ params["fc1"]["weight"] + params["fc1"]["bias"])  # (batch, 64)
    logits = x @ params["fc2"]["weight"] + params["fc2"]["bias"]  # (batch, 10)
    return logits, {"bn1": bn1}


def loss_fn(params, state, images, labels):
    logits, state = forward(params, state, images, train=True)  # (batch, 10), new statistics
    losses = optax.softmax_cross_entropy_with_integer_labels(logits, labels)  # (batch,)
    return jnp.mean(losses), state  # (), the state as an auxiliary output


def loss_and_grads(params, state, images, labels):
    # ((loss (), new state), grads shaped like params)
    return jax.value_and_grad(loss_fn, has_aux=True)(params, state, images, labels)


def make_optimizer(learning_rate):
    return optax.adam(learning_rate)


@functools.partial(jax.jit, static_argnums=0)
def train_step(optimizer, params, state, opt_state, images, labels):
    (loss, state), grads = loss_and_grads(params, state, images, labels)  # (), new statistics
    updates, opt_state = optimizer.update(grads, opt_state, params)  # shaped like params
    params = optax.apply_updates(params, updates)  # shaped like params
    return params, state, opt_state, loss


@jax.jit
def take_batch(images, labels, order, batch):
    indices = jax.lax.dynamic_slice_in_dim(order, batch * BATCH_SIZE, BATCH_SIZE)  # (BATCH_SIZE,)
    return images[indices], labels[indices]  # (BATCH_SIZE, 8, 8, 1), (BATCH_SIZE,)


def train(key, images, labels):
    init_key, shuffle_key = jax.random.split(key)  # two new keys, each of shape ()
    params, state = build_model(init_key)  # shaped as PARAMETER_SHAPES, and bn1's statistics
    optimizer = make_optimizer(LEARNING_RATE)
    # Everything on the data's device: an uncommitted array (bn1's ones and zeros, Adam's step
    # count) would make train_step compile a second time once the first step's outputs come
    # back committed
    params, state = jax.device_put((params, state), images.sharding)
    opt_state = jax.device_put(optimizer.init(params), images.sharding)  # shaped like params
    num_batches = images.shape[0] // BATCH_SIZE  # the last partial batch is dropped
    for _ in range(NUM_EPOCHS):
        shuffle_key, epoch_key = jax.random.split(shuffle_key)  # a fresh key every epoch
        order = jax.random.permutation(epoch_key, images.shape[0])  # (num_examples,)
        for batch in range(num_batches):
            batch_images, batch_labels = take_batch(images, labels, order, batch)  # one dispatch
            params, state, opt_state, _ = train_step(
                optimizer, params, state, opt_state, batch_images, batch_labels
            )  # compiled once, reused for every batch of the same shape
    return params, state


@jax.jit
def predict(params, state, images):
    logits, _ = forward(params, state, images, train=False)  # (batch, 10), running statistics
    return logits
