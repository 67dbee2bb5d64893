"""Linear regression in PyTorch (reference solution).

An `nn.Module` holding one `nn.Linear`, its prediction, the mean squared error, one step of
gradient descent with autograd, and full-batch training. Everything is float32.
"""

import torch
from torch import nn

LEARNING_RATE = 0.2
NUM_STEPS = 500


class LinearRegression(nn.Module):
    """predictions = x @ linear.weight.T + linear.bias; the weight is stored as (out, in)."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        return self.linear(x)  # (batch, out_features)


def build_model(in_features, out_features):
    return LinearRegression(in_features, out_features)


def predict(model, x):
    return model(x)  # (batch, out_features)


def mse_loss(predictions, targets):
    squared_errors = (predictions - targets) ** 2  # (batch, out_features)
    return squared_errors.mean()  # ()


def sgd_step(model, x, y, learning_rate):
    model.zero_grad()  # gradients accumulate in .grad: clear the previous step's
    predictions = predict(model, x)  # (batch, out_features)
    loss = mse_loss(predictions, y)  # ()
    loss.backward()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter -= learning_rate * parameter.grad  # same shape as the parameter
    return loss.detach()  # (), the loss before the update


def fit(x, y):
    model = build_model(x.shape[1], y.shape[1]).to(x.device)  # weight (out, in), bias (out,)
    for _ in range(NUM_STEPS):
        sgd_step(model, x, y, LEARNING_RATE)  # updates model in place; the loss is unused
    return model
