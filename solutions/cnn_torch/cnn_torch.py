"""A small CNN for 8x8 digit images in PyTorch (reference solution).

An `nn.Module` in PyTorch's layouts (images NCHW, kernels OIHW, linear weights (out, in)),
cross-entropy with autograd, `torch.optim.Adam`, and minibatch training; evaluation runs under
`torch.inference_mode()` so that it builds no graph. Everything is float32.
"""

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 10
LEARNING_RATE = 5e-3
BATCH_SIZE = 64
NUM_EPOCHS = 20


class ConvNet(nn.Module):
    """conv(3x3, pad 1) -> ReLU -> max-pool 2, twice, then flatten, fc1 -> ReLU -> fc2."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, stride=1, padding=1)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, NUM_CLASSES)

    def forward(self, images):
        x = F.max_pool2d(F.relu(self.conv1(images)), 2)  # (batch, 16, 4, 4)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (batch, 32, 2, 2)
        x = torch.flatten(x, 1)  # (batch, 128), flattened in (channel, height, width) order
        x = F.relu(self.fc1(x))  # (batch, 64)
        return self.fc2(x)  # (batch, 10) logits


def build_model():
    return ConvNet()


def forward(model, images):
    return model(images)  # (batch, 10) logits


def loss_fn(model, images, labels):
    logits = forward(model, images)  # (batch, 10)
    return F.cross_entropy(logits, labels)  # (), the mean over the batch


def loss_and_grads(model, images, labels):
    model.zero_grad()  # .grad accumulates: start from nothing
    loss = loss_fn(model, images, labels)  # ()
    loss.backward()
    grads = {name: parameter.grad.detach().clone()
             for name, parameter in model.named_parameters()}  # each shaped like its parameter
    return loss.detach(), grads


def make_optimizer(model, learning_rate):
    return torch.optim.Adam(model.parameters(), lr=learning_rate)


def train_step(optimizer, model, images, labels):
    optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's
    loss = loss_fn(model, images, labels)  # ()
    loss.backward()
    optimizer.step()  # updates model's parameters in place
    return loss.detach()  # (), the loss before the update


def train(images, labels):
    model = build_model().to(images.device)
    optimizer = make_optimizer(model, LEARNING_RATE)
    num_batches = images.shape[0] // BATCH_SIZE  # the last partial batch is dropped
    model.train()
    for _ in range(NUM_EPOCHS):
        order = torch.randperm(images.shape[0], device=images.device)  # (num_examples,)
        for batch in range(num_batches):
            indices = order[batch * BATCH_SIZE:(batch + 1) * BATCH_SIZE]  # (BATCH_SIZE,)
            train_step(optimizer, model, images[indices], labels[indices])
    return model


def predict(model, images):
    model.eval()
    with torch.inference_mode():  # no graph: evaluation needs no gradients
        return forward(model, images)  # (batch, 10) logits
