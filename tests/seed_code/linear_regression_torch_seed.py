"""A seed-code submission for linear_regression_torch (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 1,
"a simple linear-regression model trained with PyTorch": its model class, its criterion
(nn.MSELoss), its optimizer (torch.optim.SGD at lr 0.01) and its 100-epoch loop, kept as written.
Adapted only to plug into the interface: the module is built by `build_model`, the prediction
is `predict`, one pass of the loop body is `sgd_step` (the optimizer is made in it, with the
learning rate it is given), `mse_loss` is the criterion, and `fit` runs the loop on (x, y).
What it keeps from the documents: 100 steps at learning rate 0.01, far too few to reach the
least-squares optimum.
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


criterion = nn.MSELoss()


def build_model(in_features, out_features):
    return LinearRegressionModel(input_dim=in_features, output_dim=out_features)


def predict(model, x):
    return model(x)


def mse_loss(predictions, targets):
    return criterion(predictions, targets)


def sgd_step(model, x, y, learning_rate):
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    optimizer.zero_grad()
    outputs = model(x)
    loss = criterion(outputs, y)
    loss.backward()
    optimizer.step()
    return loss


def fit(x, y):
    model = build_model(x.shape[1], y.shape[1]).to(x.device)
    for epoch in range(100):
        sgd_step(model, x, y, 0.01)
    return model
