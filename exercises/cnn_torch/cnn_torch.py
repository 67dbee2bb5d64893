"""A small CNN for 8x8 digit images in PyTorch.

Fill in the class and functions below; the statement (README.md next to this file) fixes the
network, its parameter names and shapes, the batch-normalisation numbers (epsilon 1e-5,
momentum 0.1, biased batch variance, unbiased running variance), and says how each task is
checked. Images are NCHW (batch, 1, 8, 8), kernels OIHW, linear weights (out, in); everything is
float32 (bn1.num_batches_tracked int64), labels int64. Keep tensors on the device of the inputs.
Grade with `grade exercise cnn_torch`.
"""

import torch
import torch.nn.functional as F
from torch import nn


class ConvNet(nn.Module):
    """conv1 (3x3, padding 1, no bias) -> bn1 -> ReLU -> 2x2 max-pool -> conv2 (3x3, padding 1)
    -> ReLU -> 2x2 max-pool -> flatten (channel, height, width) -> fc1 -> ReLU -> fc2.

    state_dict(): conv1.weight (16, 1, 3, 3), bn1.weight (16,), bn1.bias (16,),
    bn1.running_mean (16,), bn1.running_var (16,), bn1.num_batches_tracked () int64,
    conv2.weight (32, 16, 3, 3), conv2.bias (32,), fc1.weight (64, 128), fc1.bias (64,),
    fc2.weight (10, 64), fc2.bias (10,).
    """

    def __init__(self):
        super().__init__()
        # TODO: self.conv1 (nn.Conv2d, bias=False), self.bn1 (nn.BatchNorm2d), self.conv2
        #   (nn.Conv2d), self.fc1, self.fc2 (nn.Linear).
        raise NotImplementedError

    def forward(self, images):
        # TODO: the layers above; images (batch, 1, 8, 8) -> logits (batch, 10). bn1 follows
        #   the module's mode (self.training); do not switch modes here.
        raise NotImplementedError


def build_model():
    """Task 1. A fresh ConvNet.

    Returns:
        an nn.Module whose state_dict() holds exactly the twelve tensors listed in ConvNet.
    """
    # TODO: return a new ConvNet.
    raise NotImplementedError


def forward(model, images):
    """Task 2. The network's logits, in the mode the model is in.

    In training mode bn1 normalises with the batch's statistics and updates its running
    statistics; in evaluation mode it normalises with the running statistics and changes nothing.

    Args:
        model: a ConvNet, in training or evaluation mode.
        images: float32 tensor of shape (batch, 1, 8, 8).

    Returns:
        float32 tensor of shape (batch, 10).
    """
    # TODO: call the model.
    raise NotImplementedError


def loss_and_grads(model, images, labels):
    """Task 3. The mean cross-entropy of the logits in training mode, and its gradients.

    Args:
        model: a ConvNet.
        images: float32 tensor of shape (batch, 1, 8, 8).
        labels: int64 tensor of shape (batch,), values in 0..9.

    Returns:
        (loss, grads): loss a 0-d tensor; grads a dict from each name of
        model.named_parameters() to a tensor shaped like that parameter (conv1.weight,
        bn1.weight, bn1.bias, ...). Two calls on one model give the same gradients.
    """
    # TODO: model.train(), clear old gradients, compute the loss, backward(), collect each
    #   parameter's .grad.
    raise NotImplementedError


def make_optimizer(model, learning_rate):
    """Task 4. Adam over the model's parameters, default betas and epsilon.

    Returns:
        a torch.optim.Adam.
    """
    # TODO: torch.optim.Adam
    raise NotImplementedError


def train_step(optimizer, model, images, labels):
    """Task 4. One Adam step on a batch in training mode; changes the model in place (its
    parameters, and bn1's running statistics by one momentum step).

    Args:
        optimizer: make_optimizer's result for this model.
        model: a ConvNet.
        images: float32 tensor of shape (batch, 1, 8, 8).
        labels: int64 tensor of shape (batch,).

    Returns:
        The 0-d loss before the update. Gradients of earlier steps must not leak into this one.
    """
    # TODO: model.train(), zero_grad, loss, backward, step.
    raise NotImplementedError


def train(images, labels):
    """Task 5. Train a fresh model on the digits' training split.

    Choose your own learning rate, batch size and number of epochs; use your own
    make_optimizer and train_step on shuffled minibatches. Build the model on images.device.

    Args:
        images: float32 tensor of shape (num_examples, 1, 8, 8), values in [0, 1].
        labels: int64 tensor of shape (num_examples,), values in 0..9.

    Returns:
        The trained model (its bn1 running statistics updated by the training steps).
    """
    # TODO: build the model and optimizer, then epochs of shuffled minibatch train_steps.
    raise NotImplementedError


def predict(model, images):
    """Task 5. The logits for a batch of images in evaluation mode, computed without building
    a graph: bn1 uses its running statistics and leaves them unchanged.

    Args:
        model: a trained ConvNet, possibly still in training mode.
        images: float32 tensor of shape (batch, 1, 8, 8).

    Returns:
        float32 tensor of shape (batch, 10) that does not require grad.
    """
    # TODO: model.eval(), then the forward pass under torch.inference_mode().
    raise NotImplementedError
