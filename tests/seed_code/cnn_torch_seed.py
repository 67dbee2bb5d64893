"""A seed-code submission for cnn_torch (a test input, not a solution).

Origin: the source documents the bank comes from (/work/shared/seeds/), coding question 2,
"a simple convolutional network trained with PyTorch and JAX", its PyTorch answer: the ConvNet
class (conv1 = nn.Conv2d(1, 32, 3, 1), adaptive average pooling to 1x1, fc1 =
nn.Linear(32 * 26 * 26, 128), fc2 = nn.Linear(128, 10)), its criterion (nn.CrossEntropyLoss),
its optimizer (torch.optim.Adam at lr 0.001) and its 10-epoch loop body, kept as written.
Adapted only to plug into the interface: the module is built by `build_model`, `forward` calls
it, one pass of the loop body is `train_step` (and, without the step, `loss_and_grads`), the
optimizer is made by `make_optimizer` with the learning rate it is given, `train` runs the
10 epochs over shuffled batches of 64 (the documents' `train_loader` is never defined), and
`predict` calls the model (the documents never evaluate). What it keeps from the documents:
fc1 sized for 26x26 feature maps after a pooling that leaves 1x1 (32 features), and no
batch normalisation, no `model.eval()` and no `torch.no_grad()`.
"""

import torch
import torch.nn as nn


# CNN 模型 (the documents' model, unchanged)
class ConvNet(nn.Module):
    def __init__(self):
        super(ConvNet, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.fc1 = nn.Linear(32 * 26 * 26, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = nn.functional.relu(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = x.view(x.size(0), -1)
        x = self.fc1(x)
        x = nn.functional.relu(x)
        x = self.fc2(x)
        return x


criterion = nn.CrossEntropyLoss()


def build_model():
    return ConvNet()


def forward(model, images):
    return model(images)


def loss_and_grads(model, images, labels):
    model.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    return loss.detach(), {name: p.grad.clone() for name, p in model.named_parameters()}


def make_optimizer(model, learning_rate):
    return torch.optim.Adam(model.parameters(), lr=learning_rate)


def train_step(optimizer, model, images, labels):
    # the documents' loop body
    optimizer.zero_grad()
    outputs = model(images)
    loss = criterion(outputs, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train(images, labels):
    model = ConvNet().to(images.device)
    optimizer = make_optimizer(model, 0.001)
    for epoch in range(10):
        order = torch.randperm(images.shape[0], device=images.device)
        for start in range(0, images.shape[0], 64):
            batch = order[start:start + 64]
            train_step(optimizer, model, images[batch], labels[batch])
    return model


def predict(model, images):
    return model(images)
