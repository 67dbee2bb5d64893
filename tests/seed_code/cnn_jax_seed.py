"""A seed-code submission for cnn_jax (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 2,
"a simple convolutional network trained with PyTorch and JAX", its JAX answer: `conv2d` and
`cnn` (jnn.conv2d, jnn.adaptive_average_pool2d, jnn.dense), the squared-error `loss_fn`,
`update_params` (grad with argnums=0, a step of 0.01) and the weights, all drawn from one
PRNGKey, kept as written.
Adapted only to plug into the interface: the three weights go into a params dict under the
statement's names of the layers they play (w1 conv1, w2 fc1, w3 fc2; no biases, no conv2, no
bn1), with an empty state (the documents' network has no batch normalisation);
`forward` calls `cnn`; `loss_and_grads` and `train_step` are `loss_fn` and `update_params`
(the optimizer is `optax.sgd` with the learning rate it is given, the documents' `w - lr * g`);
`train` runs the documents' 10 epochs, one example at a time; `predict` calls `cnn`.
What it keeps from the documents: functions that jax.nn does not have (conv2d,
adaptive_average_pool2d, dense), one key for every weight, fc1 sized for 26x26 feature maps,
and gradients taken with respect to the images.
"""

import jax
import jax.numpy as jnp
import jax.nn as jnn
import optax
from jax import grad, jit, random  # noqa: F401  (jit: imported by the documents, never used)


# CNN 模型 (the documents' model, unchanged)
def conv2d(x, w):
    return jnn.conv2d(x, w, strides=(1, 1), padding='VALID')


def cnn(x, w1, w2, w3):
    x = conv2d(x, w1)
    x = jnn.relu(x)
    x = jnn.adaptive_average_pool2d(x, (1, 1))
    x = x.reshape(x.shape[0], -1)
    x = jnn.dense(x, w2)
    x = jnn.relu(x)
    x = jnn.dense(x, w3)
    return x


# 损失函数和梯度 (unchanged)
def loss_fn(x, y, w1, w2, w3):
    y_pred = cnn(x, w1, w2, w3)
    return jnp.mean(jnp.square(y_pred - y))


def build_model(key):
    # the documents' weights: one key for all three
    w1 = random.normal(key, (26, 32))
    w2 = random.normal(key, (32 * 26 * 26, 128))
    w3 = random.normal(key, (128, 10))
    return pack(w1, w2, w3), {}


def pack(w1, w2, w3):
    return {"conv1": {"weight": w1}, "fc1": {"weight": w2}, "fc2": {"weight": w3}}


def unpack(params):
    return params["conv1"]["weight"], params["fc1"]["weight"], params["fc2"]["weight"]


def forward(params, state, images, train):
    return cnn(images, *unpack(params)), state


def loss_and_grads(params, state, images, labels):
    w1, w2, w3 = unpack(params)
    loss = loss_fn(images, labels, w1, w2, w3)
    gradients = grad(loss_fn, argnums=0)(images, labels, w1, w2, w3)
    return (loss, state), pack(gradients[0], gradients[1], gradients[2])


def make_optimizer(learning_rate):
    return optax.sgd(learning_rate)


def train_step(optimizer, params, state, opt_state, images, labels):
    # the documents' update_params
    w1, w2, w3 = unpack(params)
    loss = loss_fn(images, labels, w1, w2, w3)
    gradients = grad(loss_fn, argnums=0)(images, labels, w1, w2, w3)
    w1 = w1 - 0.01 * gradients[0]
    w2 = w2 - 0.01 * gradients[1]
    w3 = w3 - 0.01 * gradients[2]
    return pack(w1, w2, w3), state, opt_state, loss


def train(key, images, labels):
    params, state = build_model(key)
    optimizer = make_optimizer(0.01)
    opt_state = optimizer.init(params)
    for epoch in range(10):
        for x_batch, y_batch in zip(images, labels):
            params, state, opt_state, _ = train_step(optimizer, params, state, opt_state,
                                                     x_batch, y_batch)
    return params, state


def predict(params, state, images):
    return cnn(images, *unpack(params))
