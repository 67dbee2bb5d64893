import torch
from torch import nn


# Task 1 ---------------------------------------------------------------------------------
class LinearRegression(nn.Module):
    """A single affine layer."""

    def __init__(self, in_features, out_features):
        super().__init__()
        self.linear = nn.Linear(in_features=in_features, out_features=out_features)

    def forward(self, x):
        out = self.linear(x)
        assert out.dim() == 2
        return out


def build_model(in_features, out_features):
    return LinearRegression(in_features=in_features, out_features=out_features)


def predict(model, x):
    with torch.enable_grad():
        y_hat = model(x)
    return y_hat


# Task 2 ---------------------------------------------------------------------------------
def mse_loss(predictions, targets):
    diff = predictions - targets
    return torch.sum(diff * diff) / diff.numel()


# Task 3 ---------------------------------------------------------------------------------
def sgd_step(model, x, y, learning_rate):
    for p in model.parameters():
        p.grad = None
    current = mse_loss(predict(model, x), y)
    current.backward()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.sub_(learning_rate * p.grad)
    return current.detach()


# Task 4 ---------------------------------------------------------------------------------
def fit(x, y):
    n_in, n_out = x.shape[-1], y.shape[-1]
    m = build_model(n_in, n_out)
    m = m.to(x.device)
    previous = float("inf")
    i = 0
    while i < 3000:
        value = float(sgd_step(m, x, y, 0.05))
        if abs(previous - value) < 1e-10:
            break
        previous = value
        i += 1
    return m
