"""Hostile learner file for linear_regression_torch: every result it gives is a marker.

Its predictions, losses and trained weights are all MARKER (a value no reference computes),
and `predict` answers a large batch with a far larger array, so that, were a learner's result
ever written into the reference-result store, the marker's bytes would be found there, and the
store would grow by far more than the reference's own results. Every check must fail.
"""

import torch
from torch import nn

MARKER = 4242.4242


class LinearRegression(nn.Module):
    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        with torch.no_grad():
            self.linear.weight.fill_(MARKER)
            self.linear.bias.fill_(MARKER)

    def forward(self, x):
        rows = x.shape[0] * (64 if x.shape[0] > 32 else 1)
        return torch.full((rows, self.linear.out_features), MARKER)  # too many rows


def build_model(in_features, out_features):
    return LinearRegression(in_features, out_features)


def predict(model, x):
    return model(x)


def mse_loss(predictions, targets):
    return torch.tensor(MARKER)


def sgd_step(model, x, y, learning_rate):
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(MARKER)
    return torch.tensor(MARKER)


def fit(x, y):
    return build_model(x.shape[1], y.shape[1])
