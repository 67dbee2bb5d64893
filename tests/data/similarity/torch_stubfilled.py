"""Linear regression in PyTorch.

Fill in the five functions below; the statement (README.md next to this file) says what each
one must do and how it is checked. Everything is float32. Grade with
`grade exercise linear_regression_torch`.
"""

import torch
from torch import nn


class LinearRegression(nn.Module):
    """Task 1. predictions = x @ linear.weight.T + linear.bias.

    Its only submodule is `self.linear = nn.Linear(in_features, out_features)`, so that its
    `state_dict()` holds exactly "linear.weight" of shape (out_features, in_features) and
    "linear.bias" of shape (out_features,).
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        # TODO: create self.linear, the only submodule (see the docstring).
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        # TODO: apply self.linear: (batch, in_features) -> (batch, out_features).
        return self.linear(x)


def build_model(in_features, out_features):
    """Task 1. A linear-regression model.

    Args:
        in_features: int, the number of input features.
        out_features: int, the number of outputs.

    Returns:
        A `LinearRegression(in_features, out_features)` (an `nn.Module`).
    """
    # TODO: return a LinearRegression(in_features, out_features).
    return LinearRegression(in_features, out_features)


def predict(model, x):
    """Task 1. The model's predictions.

    Args:
        model: a model from `build_model(in_features, out_features)`.
        x: float32 tensor of shape (batch, in_features).

    Returns:
        float32 tensor of shape (batch, out_features): x @ weight.T + bias.
    """
    # TODO: run the model on x; keep the (batch, out_features) shape (no .squeeze()).
    return model(x)


def mse_loss(predictions, targets):
    """Task 2. The mean squared error.

    Args:
        predictions: float32 tensor of shape (batch, out_features).
        targets: float32 tensor of the same shape.

    Returns:
        A 0-d float32 tensor: the mean of (predictions - targets) ** 2 over all elements.
    """
    # TODO: the mean of the squared errors over all elements, as a 0-d tensor.
    return torch.mean(torch.square(predictions - targets))


def sgd_step(model, x, y, learning_rate):
    """Task 3. One step of gradient descent on the mean squared error, in place.

    Compute the loss of the current parameters on (x, y), its gradients with autograd
    (`loss.backward()`), and update every parameter in place: p <- p - learning_rate * p.grad.
    Gradients from an earlier call must not leak into this one.

    Args:
        model: a model from `build_model`.
        x: float32 tensor of shape (batch, in_features).
        y: float32 tensor of shape (batch, out_features).
        learning_rate: float.

    Returns:
        The loss before the update: a 0-d tensor (or a Python float).
    """
    # TODO: clear old gradients, compute the loss, loss.backward(), then update every
    #   parameter under torch.no_grad(); return the loss.
    for parameter in model.parameters():
        if parameter.grad is not None:
            parameter.grad.zero_()
    loss_now = mse_loss(predict(model, x), y)
    loss_now.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(parameter - learning_rate * parameter.grad)
    return loss_now.item()


def fit(x, y):
    """Task 4. Train a fresh model on (x, y) by full-batch gradient descent.

    Choose your own learning rate and number of steps. Keep the model on x's device.

    Args:
        x: float32 tensor of shape (num_examples, in_features).
        y: float32 tensor of shape (num_examples, out_features).

    Returns:
        The trained model (from `build_model(in_features, out_features)`).
    """
    # TODO: build a model, then call your sgd_step repeatedly.
    model = build_model(x.shape[1], y.shape[1])
    model.to(x.device)
    for epoch in range(1200):
        sgd_step(model, x, y, learning_rate=0.08)
    return model
