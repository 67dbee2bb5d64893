"""Linear regression in JAX.

Fill in the five functions below; the statement (README.md next to this file) says what each
one must do and how it is checked. Everything is float32. Grade with
`grade exercise linear_regression_jax`.
"""

import jax
import jax.numpy as jnp


def build_model(key, in_features, out_features):
    """Task 1. The parameters of a linear-regression model, as a dict.

    Initialise both arrays from `key` with `jax.random` (for example uniform in
    [-1/sqrt(in_features), 1/sqrt(in_features)], as torch.nn.Linear does).

    Args:
        key: a jax.random key.
        in_features: int, the number of input features.
        out_features: int, the number of outputs.

    Returns:
        {"linear": {"weight": float32 array (in_features, out_features),
                    "bias": float32 array (out_features,)}}
    """
    # TODO: split the key, draw the weight and the bias with jax.random.uniform, and
    #   return them in the nested dict.
    key_w, key_b = jax.random.split(key)
    r = 1.0 / (in_features ** 0.5)
    weight = jax.random.uniform(key_w, (in_features, out_features), minval=-r, maxval=r)
    bias = jax.random.uniform(key_b, (out_features,), minval=-r, maxval=r)
    return {"linear": {"weight": weight.astype(jnp.float32), "bias": bias.astype(jnp.float32)}}


def predict(params, x):
    """Task 1. The model's predictions.

    Args:
        params: a dict shaped like build_model's result.
        x: float32 array of shape (batch, in_features).

    Returns:
        float32 array of shape (batch, out_features): x @ weight + bias.
    """
    # TODO: x @ weight + bias; keep the (batch, out_features) shape (no squeeze).
    return x @ params['linear']['weight'] + params['linear']['bias']


def mse_loss(predictions, targets):
    """Task 2. The mean squared error.

    Args:
        predictions: float32 array of shape (batch, out_features).
        targets: float32 array of the same shape.

    Returns:
        A 0-d float32 array: the mean of (predictions - targets) ** 2 over all elements.
    """
    # TODO: the mean of the squared errors over all elements, as a 0-d array.
    return ((predictions - targets) ** 2).mean()


def sgd_step(params, x, y, learning_rate):
    """Task 3. One step of gradient descent on the mean squared error, as a pure function.

    Compute the loss of `params` on (x, y) and its gradients with `jax.grad` or
    `jax.value_and_grad`, and return new parameters p - learning_rate * grad. Do not change
    `params`. The function must also work under `jax.jit(sgd_step)`, where learning_rate is a
    traced value (so no Python `float(...)`, `if` or `.item()` on it or on the loss).

    Args:
        params: a dict shaped like build_model's result.
        x: float32 array of shape (batch, in_features).
        y: float32 array of shape (batch, out_features).
        learning_rate: float (a traced scalar under jit).

    Returns:
        (new_params, loss): new_params shaped like params; loss, a 0-d array, is the loss of
        `params` (before the update).
    """
    # TODO: jax.value_and_grad of a loss_fn(params, x, y), then jax.tree.map for
    #   p - learning_rate * grad; return (new_params, loss).
    def loss_of(p):
        return mse_loss(predict(p, x), y)

    loss, grad = jax.value_and_grad(loss_of)(params)
    return jax.tree.map(lambda w, dw: w - learning_rate * dw, params, grad), loss


def fit(key, x, y):
    """Task 4. Train fresh parameters on (x, y) by full-batch gradient descent.

    Choose your own learning rate and number of steps. Hint: jit the step.

    Args:
        key: a jax.random key, for build_model.
        x: float32 array of shape (num_examples, in_features).
        y: float32 array of shape (num_examples, out_features).

    Returns:
        The trained params, shaped like build_model's result.
    """
    # TODO: build params, then call your sgd_step repeatedly.
    params = build_model(key, x.shape[1], y.shape[1])
    step = jax.jit(sgd_step)
    n = 0
    while n < 900:
        params, loss = step(params, x, y, 0.15)
        n += 1
    return params
