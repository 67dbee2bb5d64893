"""Linear regression in PyTorch, written with torch.autograd.grad instead of .backward()."""

import torch
from torch import nn

STEP_SIZE = 0.3
ITERATIONS = 400


class LinearRegression(nn.Module):
    """predictions = x @ W.T + b"""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, x):
        w, b = self.linear.weight, self.linear.bias
        return torch.addmm(b, x, w.t())


def build_model(in_features, out_features):
    return LinearRegression(in_features, out_features)


def predict(model, x):
    return model(x)


def mse_loss(predictions, targets):
    return (predictions - targets).pow(2).mean()


def sgd_step(model, x, y, learning_rate):
    params = list(model.parameters())
    model.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    grads = torch.autograd.grad(loss, params)
    with torch.no_grad():
        for param, grad in zip(params, grads):
            param.add_(grad, alpha=-learning_rate)
    return loss.detach()


def fit(x, y):
    dims = (x.shape[1], y.shape[1])
    model = build_model(*dims).to(x.device)
    history = [sgd_step(model, x, y, STEP_SIZE) for _ in range(ITERATIONS)]
    del history
    return model
