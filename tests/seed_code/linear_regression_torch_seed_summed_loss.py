"""A seed-code submission for linear_regression_torch (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/): the first document's
autodiff example computes the PyTorch loss as `loss = (z - y).sum()` (no square, no mean); the
second document's coding question 1 gives the model, the SGD optimizer at lr 0.01 and the
100-epoch loop. Adapted only to plug into the interface: the module is built by `build_model`,
the example's loss is `mse_loss`, and the loop body (with `mse_loss` as its criterion, as the
statement asks of `sgd_step`) is `sgd_step`; `fit` runs the loop on (x, y).
What it keeps from the documents: the summed, unsquared loss, which has no minimum, so
training on it runs away from the optimum.
"""

import torch
import torch.nn as nn


# 线性回归模型 (the documents' model, unchanged)
class LinearRegressionModel(nn.Module):
    def __init__(self, input_dim, output_dim):
        super(LinearRegressionModel, self).__init__()
        self.linear = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return self.linear(x)


def build_model(in_features, out_features):
    return LinearRegressionModel(input_dim=in_features, output_dim=out_features)


def predict(model, x):
    return model(x)


def mse_loss(z, y):
    loss = (z - y).sum()
    return loss


def sgd_step(model, x, y, learning_rate):
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    optimizer.zero_grad()
    outputs = model(x)
    loss = mse_loss(outputs, y)
    loss.backward()
    optimizer.step()
    return loss


def fit(x, y):
    model = build_model(x.shape[1], y.shape[1]).to(x.device)
    for epoch in range(100):
        sgd_step(model, x, y, 0.01)
    return model
