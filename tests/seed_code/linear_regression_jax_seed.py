"""A seed-code submission for linear_regression_jax (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 1,
"a simple linear-regression model trained with JAX": its `linear_regression(x, w)`
(`jnp.dot(x, w)`, no bias), its `loss_fn(x, y, w)` (a mean of squares), `grad(loss_fn,
argnums=2)`, the weight `jnp.array([0.0])` and 100 epochs of `w = w - 0.01 * gradients`, kept
as written. Adapted only to plug into the interface: the weight lives in
`{"linear": {"weight": w}}`, `sgd_step` is one pass of the loop body with the learning rate it
is given and also returns the loss before the update, and `fit` runs the loop on (x, y).
What it keeps from the documents: a single scalar weight and no bias at all.
"""

import jax
import jax.numpy as jnp
from jax import grad, jit


# 线性回归模型
def linear_regression(x, w):
    return jnp.dot(x, w)


# 损失函数和梯度
def loss_fn(x, y, w):
    y_pred = linear_regression(x, w)
    return jnp.mean((y_pred - y)**2)


grad_loss_fn = grad(loss_fn, argnums=2)


def build_model(key, in_features, out_features):
    w = jnp.array([0.0], dtype=jnp.float32)
    return {"linear": {"weight": w}}


def predict(params, x):
    return linear_regression(x, params["linear"]["weight"])


def mse_loss(predictions, targets):
    return jnp.mean((predictions - targets)**2)


def sgd_step(params, x, y, learning_rate):
    w = params["linear"]["weight"]
    loss = loss_fn(x, y, w)
    gradients = grad_loss_fn(x, y, w)
    w = w - learning_rate * gradients
    return {"linear": {"weight": w}}, loss


def fit(key, x, y):
    params = build_model(key, x.shape[1], y.shape[1])
    for epoch in range(100):
        params, _ = sgd_step(params, x, y, 0.01)
    return params
