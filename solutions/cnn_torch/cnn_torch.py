"""A small CNN for 8x8 digit images in PyTorch (reference solution).

An `nn.Module` in PyTorch's layouts (images NCHW, kernels OIHW, linear weights (out, in)),
with one `nn.BatchNorm2d` whose running statistics are buffers: `model.train()` normalises with
the batch's statistics and updates the buffers, `model.eval()` normalises with the buffers.
Cross-entropy with autograd, `torch.optim.Adam`, and minibatch training; evaluation switches to
eval mode and runs under `torch.inference_mode()` so that it builds no graph. Everything is
float32 (the buffer `bn1.num_batches_tracked` is int64).
"""

import torch
import torch.nn.functional as F
from torch import nn

NUM_CLASSES = 10
LEARNING_RATE = 5e-3
BATCH_SIZE = 64
NUM_EPOCHS = 20


class ConvNet(nn.Module):
    """conv1 (no bias) -> bn1 -> ReLU -> max-pool 2, conv2 -> ReLU -> max-pool 2, then flatten,
    fc1 -> ReLU -> fc2."""

    def __init__(self):
        super().__init__()
        # no bias: bn1 subtracts the batch mean right after, so a bias would cancel out
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16, eps=1e-5, momentum=0.1)  # PyTorch's defaults, spelled out
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, stride=1, padding=1)
        self.fc1 = nn.Linear(32 * 2 * 2, 64)
        self.fc2 = nn.Linear(64, NUM_CLASSES)

    def forward(self, images):
        x = self.bn1(self.conv1(images))  # (batch, 16, 8, 8); batch or running statistics
        x = F.max_pool2d(F.relu(x), 2)  # (batch, 16, 4, 4)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (batch, 32, 2, 2)
        x = torch.flatten(x, 1)  # (batch, 128), flattened in (channel, height, width) order
        x = F.relu(self.fc1(x))  # (batch, 64)
        return self.fc2(x)  # (batch, 10) logits


def build_model():
    return ConvNet()


def forward(model, images):
    return model(images)  # (batch, 10) logits, in the mode the model is in


def loss_fn(model, images, labels):
    logits = forward(model, images)  # (batch, 10)
    return F.cross_entropy(logits, labels)  # (), the mean over the batch


def loss_and_grads(model, images, labels):
    model.train()  # the training loss: batch statistics (the running ones move too)
    model.zero_grad()  # .grad accumulates: start from nothing
    loss = loss_fn(model, images, labels)  # ()
    loss.backward()
    grads = {name: parameter.grad.detach().clone()
             for name, parameter in model.named_parameters()}  # each shaped like its parameter
    return loss.detach(), grads


def make_optimizer(model, learning_rate):
    return torch.optim.Adam(model.parameters(), lr=learning_rate)


def train_step(optimizer, model, images, labels):
    model.train()  # batch statistics; bn1's running statistics take one momentum step
    optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's
    loss = loss_fn(model, images, labels)  # ()
    loss.backward()
    optimizer.step()  # updates model's parameters in place
    return loss.detach()  # (), the loss before the update


def train(images, labels):
    model = build_model().to(images.device)
    optimizer = make_optimizer(model, LEARNING_RATE)
    num_batches = images.shape[0] // BATCH_SIZE  # the last partial batch is dropped
    for _ in range(NUM_EPOCHS):
        order = torch.randperm(images.shape[0], device=images.device)  # (num_examples,)
        for batch in range(num_batches):
            indices = order[batch * BATCH_SIZE:(batch + 1) * BATCH_SIZE]  # (BATCH_SIZE,)
            train_step(optimizer, model, images[indices], labels[indices])
    return model


def predict(model, images):
    model.eval()  # bn1 normalises with its running statistics and leaves them as they are
    with torch.inference_mode():  # no graph: evaluation needs no gradients
        return forward(model, images)  # (batch, 10) logits
