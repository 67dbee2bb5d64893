"""The candidate kit of a hiring take-home (`grade kit ID... --out DIR|kit.zip`).

A kit holds, for each item, its statement (`<id>/README.md`) and the bank's pristine stub
(`<id>/<id>.py`, or the blank answers file `<id>/<id>.yaml` of a theory item); a candidate
`README.md` (setup, what is graded, the time limits as factors of the reference, the device,
how to hand in); and `check_interface.py`, a public, standalone interface check rendered from
the template `smoke.py` next to this module with each item's interface as data: the stub's
signatures (read with `ast`, never by importing it) and, for code items, one call per function
on made-up inputs whose result's type, shape and dtype the statement fixes.

Nothing else of the bank goes in: no reference (solutions/), no hidden suite, hint or theory
key (grader/suites/), no data (grader/data/). Everything written comes from the statement, the
stub, the catalog's limits and the text of this module.
"""

import ast
import configparser
import io
import os
import pprint
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from grader import __version__
from grader.bank_stubs import bank_stub

CHECK_SCRIPT = "check_interface.py"
TEMPLATE = Path(__file__).with_name("smoke.py")
DATA_MARKER = "ITEMS = {}  # KIT-DATA"
TORCH_PIN = "2.13.0"  # scripts/setup.sh installs this PyTorch; the reviewer's grader runs it
FRAMEWORK_PACKAGES = ("torch", "numpy", "jax", "optax", "gymnasium")


class KitError(Exception):
    """A kit that cannot be made as asked; the message says what to do."""


# One call per function of each code item, on small made-up inputs: what the statement says
# comes back (type, shape, dtype), never a value. `m` is the candidate's module; the calls of
# an item share one namespace, in order, and `needs` names the calls whose results one uses.
_TORCH_LINEAR = """\
import torch
from torch import nn

class _Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 2)

    def forward(self, x):
        return self.linear(x)

def _process_group():
    import os, tempfile
    import torch.distributed as dist
    if not dist.is_initialized():
        where = os.path.join(tempfile.mkdtemp(), "rendezvous")
        dist.init_process_group("gloo", init_method="file://" + where, rank=0, world_size=1)
"""

CALLS = {
    "linear_regression_torch": [
        ("build_model", [], "an nn.Module with linear.weight (2, 3) and linear.bias (2,)", """\
import torch
model = m.build_model(3, 2)
expect_type(model, (torch.nn.Module,), "build_model(3, 2)")
expect_like(dict(model.state_dict()), {"linear.weight": (2, 3), "linear.bias": (2,)},
            "build_model(3, 2).state_dict()")
"""),
        ("predict", ["build_model"], "float32 (5, 2) for x of shape (5, 3)", """\
out = m.predict(model, torch.randn(5, 3))
expect(out, (5, 2), "float32", "predict(model, x)")
"""),
        ("mse_loss", [], "a 0-d float32 tensor", """\
expect(m.mse_loss(torch.randn(5, 2), torch.randn(5, 2)), (), "float32", "mse_loss")
"""),
        ("sgd_step", ["build_model"], "a 0-d tensor or a float", """\
loss = m.sgd_step(model, torch.randn(5, 3), torch.randn(5, 2), 0.1)
if not isinstance(loss, float):
    expect(loss, (), "float32", "sgd_step's loss")
"""),
        ("fit", [], "an nn.Module with linear.weight (2, 3) and linear.bias (2,)", """\
fitted = m.fit(torch.randn(16, 3), torch.randn(16, 2))
expect_type(fitted, (torch.nn.Module,), "fit(x, y)")
expect_like(dict(fitted.state_dict()), {"linear.weight": (2, 3), "linear.bias": (2,)},
            "fit(x, y).state_dict()")
"""),
    ],
    "linear_regression_jax": [
        ("build_model", [], "linear.weight (3, 2) and linear.bias (2,), float32", """\
import jax
import jax.numpy as jnp
params = m.build_model(jax.random.key(0), 3, 2)
expect_like(params, {"linear": {"weight": (3, 2), "bias": (2,)}}, "build_model(key, 3, 2)")
"""),
        ("predict", ["build_model"], "float32 (5, 2) for x of shape (5, 3)", """\
x = jax.random.normal(jax.random.key(1), (5, 3))
y = jax.random.normal(jax.random.key(2), (5, 2))
expect(m.predict(params, x), (5, 2), "float32", "predict(params, x)")
"""),
        ("mse_loss", [], "a 0-d float32 array", """\
expect(m.mse_loss(jnp.ones((5, 2)), jnp.zeros((5, 2))), (), "float32", "mse_loss")
"""),
        ("sgd_step", ["build_model", "predict"], "(params of the same shapes, a 0-d loss), "
         "also under jax.jit", """\
for _step, _how in ((m.sgd_step, "sgd_step"), (jax.jit(m.sgd_step), "jax.jit(sgd_step)")):
    _result = _step(params, x, y, 0.1)
    expect_type(_result, (tuple, list), _how)
    if len(_result) != 2:
        raise Mismatch(f"{_how}: expected (new_params, loss), got {len(_result)} values")
    expect_like(_result[0], {"linear": {"weight": (3, 2), "bias": (2,)}}, _how + "'s new_params")
    expect(_result[1], (), "float32", _how + "'s loss")
"""),
        ("fit", ["predict"], "linear.weight (3, 2) and linear.bias (2,), float32", """\
fitted = m.fit(jax.random.key(3), x, y)
expect_like(fitted, {"linear": {"weight": (3, 2), "bias": (2,)}}, "fit(key, x, y)")
"""),
    ],
    "cnn_torch": [
        ("build_model", [], "an nn.Module with the parameters and buffers of the statement", """\
import torch
SHAPES = {"conv1.weight": (16, 1, 3, 3), "bn1.weight": (16,), "bn1.bias": (16,),
          "conv2.weight": (32, 16, 3, 3), "conv2.bias": (32,), "fc1.weight": (64, 128),
          "fc1.bias": (64,), "fc2.weight": (10, 64), "fc2.bias": (10,)}
BUFFERS = {"bn1.running_mean": (16,), "bn1.running_var": (16,)}
model = m.build_model()
expect_type(model, (torch.nn.Module,), "build_model()")
expect_like(dict(model.named_parameters()), SHAPES, "build_model().named_parameters()")
_buffers = {name: b for name, b in model.named_buffers() if name != "bn1.num_batches_tracked"}
expect_like(_buffers, BUFFERS, "build_model().named_buffers()")
images = torch.rand(6, 1, 8, 8)
labels = torch.randint(0, 10, (6,))
"""),
        ("forward", ["build_model"], "float32 (6, 10) for images of shape (6, 1, 8, 8)", """\
expect(m.forward(model, images), (6, 10), "float32", "forward(model, images)")
"""),
        ("loss_and_grads", ["build_model"], "(a 0-d loss, a gradient per parameter)", """\
_result = m.loss_and_grads(model, images, labels)
expect_type(_result, (tuple, list), "loss_and_grads")
if len(_result) != 2:
    raise Mismatch(f"loss_and_grads: expected (loss, grads), got {len(_result)} values")
expect(_result[0], (), "float32", "loss_and_grads' loss")
expect_like(dict(_result[1]), SHAPES, "loss_and_grads' grads")
"""),
        ("make_optimizer", ["build_model"], "a torch.optim.Adam", """\
optimizer = m.make_optimizer(model, 1e-3)
expect_type(optimizer, (torch.optim.Adam,), "make_optimizer(model, 1e-3)")
"""),
        ("train_step", ["build_model", "make_optimizer"], "a 0-d loss", """\
_loss = m.train_step(optimizer, model, images, labels)
if not isinstance(_loss, float):
    expect(_loss, (), "float32", "train_step's loss")
"""),
        ("train", ["build_model"], "an nn.Module with the parameters of the statement (trained "
         "on 32 made-up images)", """\
trained = m.train(torch.rand(32, 1, 8, 8), torch.randint(0, 10, (32,)))
expect_type(trained, (torch.nn.Module,), "train(images, labels)")
expect_like(dict(trained.named_parameters()), SHAPES, "train(images, labels).named_parameters()")
"""),
        ("predict", ["build_model"], "float32 (6, 10) that does not require grad", """\
_logits = m.predict(model, images)
expect(_logits, (6, 10), "float32", "predict's logits")
if getattr(_logits, "requires_grad", False):
    raise Mismatch("predict(model, images): the logits require grad; compute them without "
                   "building a graph")
"""),
    ],
    "cnn_jax": [
        ("build_model", [], "(params, state): the float32 arrays of the statement", """\
import jax
import jax.numpy as jnp
SHAPES = {"conv1": {"weight": (3, 3, 1, 16)}, "bn1": {"weight": (16,), "bias": (16,)},
          "conv2": {"weight": (3, 3, 16, 32), "bias": (32,)},
          "fc1": {"weight": (128, 64), "bias": (64,)},
          "fc2": {"weight": (64, 10), "bias": (10,)}}
STATE = {"bn1": {"running_mean": (16,), "running_var": (16,)}}

def _pair(result, what):
    expect_type(result, (tuple, list), what)
    if len(result) != 2:
        raise Mismatch(f"{what}: expected a pair, got {len(result)} values")
    first, second = result
    return first, second

params, state = _pair(m.build_model(jax.random.key(0)), "build_model(key)")
expect_like(params, SHAPES, "build_model(key)'s params")
expect_like(state, STATE, "build_model(key)'s state")
images = jax.random.uniform(jax.random.key(1), (6, 8, 8, 1))
labels = jax.random.randint(jax.random.key(2), (6,), 0, 10).astype(jnp.int32)
"""),
        ("forward", ["build_model"], "(float32 (6, 10), a state) for images of shape "
         "(6, 8, 8, 1), train True and False", """\
for _train in (True, False):
    _logits, _state = _pair(m.forward(params, state, images, _train),
                            f"forward(params, state, images, {_train})")
    expect(_logits, (6, 10), "float32", f"forward(params, state, images, {_train})'s logits")
    expect_like(_state, STATE, f"forward(params, state, images, {_train})'s state")
"""),
        ("loss_and_grads", ["build_model"], "((a 0-d loss, a state), grads shaped like "
         "params)", """\
_value, _grads = _pair(m.loss_and_grads(params, state, images, labels), "loss_and_grads")
_loss, _state = _pair(_value, "loss_and_grads' first element (loss, state)")
expect(_loss, (), "float32", "loss_and_grads' loss")
expect_like(_state, STATE, "loss_and_grads' state")
expect_like(_grads, SHAPES, "loss_and_grads' grads")
"""),
        ("make_optimizer", [], "an optax.GradientTransformation", """\
optimizer = m.make_optimizer(1e-3)
if not (callable(getattr(optimizer, "init", None)) and callable(getattr(optimizer, "update",
                                                                         None))):
    raise Mismatch("make_optimizer(1e-3): expected an optax.GradientTransformation "
                   f"(init and update), got {type(optimizer).__name__}")
"""),
        ("train_step", ["build_model", "make_optimizer"], "(params shaped like params, a "
         "state, an optimizer state, a 0-d loss)", """\
_result = m.train_step(optimizer, params, state, optimizer.init(params), images, labels)
expect_type(_result, (tuple, list), "train_step")
if len(_result) != 4:
    raise Mismatch(f"train_step: expected (params, state, opt_state, loss), got {len(_result)} "
                   "values")
expect_like(_result[0], SHAPES, "train_step's params")
expect_like(_result[1], STATE, "train_step's state")
expect(_result[3], (), "float32", "train_step's loss")
"""),
        ("train", ["build_model"], "(params, state) of the statement's shapes (trained on 32 "
         "made-up images)", """\
_images = jax.random.uniform(jax.random.key(3), (32, 8, 8, 1))
_labels = jax.random.randint(jax.random.key(4), (32,), 0, 10).astype(jnp.int32)
_params, _state = _pair(m.train(jax.random.key(5), _images, _labels), "train(key, images, labels)")
expect_like(_params, SHAPES, "train(key, images, labels)'s params")
expect_like(_state, STATE, "train(key, images, labels)'s state")
"""),
        ("predict", ["build_model"], "float32 (6, 10)", """\
expect(m.predict(params, state, images), (6, 10), "float32", "predict(params, state, images)")
"""),
    ],
    "qlearning_torch": [
        ("build_q_network", [], "an nn.Module with fc1 (8, 16) and fc2 (4, 8)", """\
import torch
network = m.build_q_network(16, 4, hidden_size=8)
expect_type(network, (torch.nn.Module,), "build_q_network(16, 4, hidden_size=8)")
expect_like(dict(network.state_dict()), {"fc1.weight": (8, 16), "fc1.bias": (8,),
                                         "fc2.weight": (4, 8), "fc2.bias": (4,)},
            "build_q_network(16, 4, hidden_size=8).state_dict()")
target = m.build_q_network(16, 4, hidden_size=8)
batch = {"states": torch.tensor([0, 5, 15]), "actions": torch.tensor([0, 3, 1]),
         "next_states": torch.tensor([1, 6, 14]), "rewards": torch.tensor([0.0, 1.0, 0.0]),
         "dones": torch.tensor([0.0, 1.0, 0.0])}
"""),
        ("q_values", ["build_q_network"], "float32 (3, 4) for 3 states", """\
expect(m.q_values(network, batch["states"]), (3, 4), "float32", "q_values(network, states)")
"""),
        ("td_targets", [], "float32 (3,)", """\
expect(m.td_targets(torch.tensor([0.0, 1.0, 0.5]), torch.rand(3, 4),
                    torch.tensor([0.0, 1.0, 0.0]), 0.9), (3,), "float32", "td_targets")
"""),
        ("dqn_loss", ["build_q_network"], "a 0-d float32 tensor", """\
expect(m.dqn_loss(network, target, batch, 0.9), (), "float32", "dqn_loss")
"""),
        ("train_step", ["build_q_network"], "a 0-d loss or a float", """\
_loss = m.train_step(network, target, torch.optim.SGD(network.parameters(), lr=0.01), batch,
                     0.9)
if not isinstance(_loss, float):
    expect(_loss, (), "float32", "train_step's loss")
"""),
        ("select_action", [], "an int in 0..3 for 4 Q-values", """\
for _epsilon in (0.0, 1.0):
    _action = m.select_action(torch.tensor([0.1, 0.4, 0.2, 0.3]), _epsilon)
    expect_type(_action, (int,), f"select_action(q_values, {_epsilon})")
    if not 0 <= _action < 4:
        raise Mismatch(f"select_action(q_values, {_epsilon}): {_action} is not an action "
                       "index in 0..3")
"""),
    ],
    "qlearning_jax": [
        ("build_q_network", [], "fc1 (16, 8) and fc2 (8, 4), float32", """\
import jax
import jax.numpy as jnp
import optax
SHAPES = {"fc1": {"weight": (16, 8), "bias": (8,)}, "fc2": {"weight": (8, 4), "bias": (4,)}}
params = m.build_q_network(jax.random.key(0), 16, 4, hidden_size=8)
expect_like(params, SHAPES, "build_q_network(key, 16, 4, hidden_size=8)")
target = m.build_q_network(jax.random.key(1), 16, 4, hidden_size=8)
batch = {"states": jnp.array([0, 5, 15], jnp.int32), "actions": jnp.array([0, 3, 1], jnp.int32),
         "next_states": jnp.array([1, 6, 14], jnp.int32),
         "rewards": jnp.array([0.0, 1.0, 0.0], jnp.float32),
         "dones": jnp.array([0.0, 1.0, 0.0], jnp.float32)}
"""),
        ("q_values", ["build_q_network"], "float32 (3, 4) for 3 states", """\
expect(m.q_values(params, batch["states"]), (3, 4), "float32", "q_values(params, states)")
"""),
        ("td_targets", [], "float32 (3,)", """\
expect(m.td_targets(jnp.array([0.0, 1.0, 0.5]), jnp.ones((3, 4)), jnp.array([0.0, 1.0, 0.0]),
                    0.9), (3,), "float32", "td_targets")
"""),
        ("dqn_loss", ["build_q_network"], "a 0-d float32 array", """\
expect(m.dqn_loss(params, target, batch, 0.9), (), "float32", "dqn_loss")
"""),
        ("train_step", ["build_q_network"], "(params shaped like params, an optimizer state, a "
         "0-d loss)", """\
_optimizer = optax.adam(1e-2)
_result = m.train_step(params, target, _optimizer.init(params), batch, 0.9, _optimizer)
expect_type(_result, (tuple, list), "train_step")
if len(_result) != 3:
    raise Mismatch(f"train_step: expected (new_params, new_opt_state, loss), got "
                   f"{len(_result)} values")
expect_like(_result[0], SHAPES, "train_step's new_params")
expect(_result[2], (), "float32", "train_step's loss")
"""),
        ("select_action", [], "a 0-d integer array in 0..3 for 4 Q-values, also under jax.jit",
         """\
for _epsilon in (0.0, 1.0):
    for _choose, _how in ((m.select_action, "select_action"),
                          (jax.jit(m.select_action), "jax.jit(select_action)")):
        _action = _choose(jax.random.key(2), jnp.array([0.1, 0.4, 0.2, 0.3]), _epsilon)
        expect(_action, (), "int", f"{_how}(key, q_values, {_epsilon})")
        if not 0 <= int(_action) < 4:
            raise Mismatch(f"{_how}(key, q_values, {_epsilon}): {int(_action)} is not an "
                           "action index in 0..3")
"""),
    ],
    "distributed_torch": [
        ("shard_batch", [], "blocks of shapes (2, 3) and (2, 2) for a batch of 8 over 4 ranks",
         """\
import torch
_shards = m.shard_batch(torch.randn(8, 3), torch.randn(8, 2), 1, 4)
expect_type(_shards, (tuple, list), "shard_batch(x, y, 1, 4)")
if len(_shards) != 2:
    raise Mismatch(f"shard_batch: expected (x_shard, y_shard), got {len(_shards)} values")
expect(_shards[0], (2, 3), "float32", "shard_batch's x_shard")
expect(_shards[1], (2, 2), "float32", "shard_batch's y_shard")
"""),
        ("make_train_step", [], "a step whose loss is 0-d (in a one-rank process group)",
         _TORCH_LINEAR + """\
_process_group()
_step = m.make_train_step(_Model(), 0.1)
if not callable(_step):
    raise Mismatch(f"make_train_step: expected a function, got {type(_step).__name__}")
_loss = _step(torch.randn(4, 3), torch.randn(4, 2))
if not isinstance(_loss, float):
    expect(_loss, (), "float32", "step(x_shard, y_shard)")
"""),
        ("train", [], "the model (in a one-rank process group)", _TORCH_LINEAR + """\
_process_group()
_model = _Model()
_trained = m.train(_model, torch.randn(8, 3), torch.randn(8, 2), 0.1, 2)
expect_type(_trained, (torch.nn.Module,), "train(model, x, y, 0.1, 2)")
expect_like(dict(_trained.state_dict()), {"linear.weight": (2, 3), "linear.bias": (2,)},
            "train(...).state_dict()")
"""),
    ],
    "distributed_jax": [
        ("shard_batch", [], "arrays of the batch's shapes (on a mesh of this machine's devices)",
         """\
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np
mesh = Mesh(np.array(jax.devices()), ("data",))
_rows = 4 * len(jax.devices())
x = jax.random.normal(jax.random.key(0), (_rows, 3))
y = jax.random.normal(jax.random.key(1), (_rows, 2))
_shards = m.shard_batch(x, y, mesh)
expect_type(_shards, (tuple, list), "shard_batch(x, y, mesh)")
if len(_shards) != 2:
    raise Mismatch(f"shard_batch: expected (x_sharded, y_sharded), got {len(_shards)} values")
expect(_shards[0], (_rows, 3), "float32", "shard_batch's x_sharded")
expect(_shards[1], (_rows, 2), "float32", "shard_batch's y_sharded")
params = {"linear": {"weight": jnp.zeros((3, 2)), "bias": jnp.zeros((2,))}}
"""),
        ("make_train_step", ["shard_batch"], "step(params, x, y) -> (params, a 0-d loss)", """\
_step = m.make_train_step(mesh, 0.1)
_result = _step(params, *_shards)
expect_type(_result, (tuple, list), "step(params, x, y)")
if len(_result) != 2:
    raise Mismatch(f"step: expected (new_params, loss), got {len(_result)} values")
expect_like(_result[0], {"linear": {"weight": (3, 2), "bias": (2,)}}, "step's new_params")
expect(_result[1], (), "float32", "step's loss")
"""),
        ("train", ["shard_batch"], "params of the same shapes", """\
expect_like(m.train(params, x, y, mesh, 0.1, 2), {"linear": {"weight": (3, 2), "bias": (2,)}},
            "train(params, x, y, mesh, 0.1, 2)")
"""),
    ],
}

NOT_CALLED = {
    "qlearning_torch": {"train": "it trains on a Gymnasium environment for a while"},
    "qlearning_jax": {"train": "it trains on a Gymnasium environment for a while"},
}


def stub_interface(source):
    """({function: params}, {class: {method: params}}) of a stub's source, read with `ast`;
    params are [name, kind, has_default] as `inspect.Parameter` names the kinds."""
    tree = ast.parse(source)
    functions, classes = {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and \
                not node.name.startswith("_"):
            functions[node.name] = _parameters(node.args)
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            classes[node.name] = {
                method.name: _parameters(method.args) for method in node.body
                if isinstance(method, (ast.FunctionDef, ast.AsyncFunctionDef))
                and (method.name == "__init__" or not method.name.startswith("_"))}
    return functions, classes


def _parameters(args):
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    listed = [[arg.arg, "POSITIONAL_ONLY" if index < len(args.posonlyargs)
               else "POSITIONAL_OR_KEYWORD", index >= first_default]
              for index, arg in enumerate(positional)]
    if args.vararg:
        listed.append([args.vararg.arg, "VAR_POSITIONAL", False])
    listed += [[arg.arg, "KEYWORD_ONLY", default is not None]
               for arg, default in zip(args.kwonlyargs, args.kw_defaults)]
    if args.kwarg:
        listed.append([args.kwarg.arg, "VAR_KEYWORD", False])
    return listed


def theory_questions(text):
    """The answer keys (`q1`, `q2`...) of a blank answers file, in order."""
    return re.findall(r"^(q\d+):", text, re.MULTILINE)


def item_interface(item, stub_text):
    """The data check_interface.py holds for one item."""
    file_name = f"{item.id}.yaml" if item.kind == "theory" else f"{item.id}.py"
    if item.kind == "theory":
        return {"kind": "theory", "file": file_name, "questions": theory_questions(stub_text)}
    functions, classes = stub_interface(stub_text)
    calls = CALLS.get(item.id, [])
    not_called = dict(NOT_CALLED.get(item.id, {}))
    for name in functions:
        if name not in not_called and not any(call[0] == name for call in calls):
            not_called[name] = "no made-up inputs for it in this kit"
    return {"kind": "code", "file": file_name, "functions": functions, "classes": classes,
            "calls": [{"function": name, "needs": needs, "says": says, "code": code}
                      for name, needs, says, code in calls if name in functions],
            "not_called": not_called}


def render_check_script(interfaces):
    """The source of check_interface.py: the template with ITEMS filled in."""
    template = TEMPLATE.read_text(encoding="utf-8")
    marker = next(line for line in template.splitlines() if line.startswith(DATA_MARKER))
    data = "ITEMS = " + pprint.pformat(interfaces, width=100, sort_dicts=False)
    return template.replace(marker, data, 1).replace(
        "This file is a template: `grade kit` writes it into the kit with ITEMS filled in.",
        f"Written by `grade kit` (dlprep {__version__}).")


def statement_tasks(text):
    """The numbered tasks of a statement: `### 1. title` (code) or `## Task 1: title`."""
    tasks = re.findall(r"^###\s+(\d+)\.\s+(.+?)\s*$", text, re.MULTILINE)
    if not tasks:
        tasks = re.findall(r"^##\s+Task\s+(\d+):\s+(.+?)\s*$", text, re.MULTILINE)
    return [(int(number), title) for number, title in tasks]


def _requirements(root):
    """{package: version specifier} from the bank's setup.cfg install_requires."""
    parser = configparser.ConfigParser()
    parser.read(Path(root) / "setup.cfg", encoding="utf-8")
    wanted = {}
    for line in parser.get("options", "install_requires", fallback="").splitlines():
        found = re.match(r"\s*([A-Za-z0-9_.-]+)\s*([<>=!~][^;]*)?", line)
        if found and found.group(1) in FRAMEWORK_PACKAGES:
            wanted[found.group(1)] = (found.group(2) or "").strip()
    return wanted


def _packages(item, stub_text):
    """The packages one item needs, in install order (torch first)."""
    needed = set()
    if item.kind == "theory":
        return needed
    for node in ast.walk(ast.parse(stub_text)):
        if isinstance(node, ast.Import):
            needed.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            needed.add(node.module.split(".")[0])
    needed.add(item.framework)
    needed.add("numpy")
    if item.topic == "qlearning":
        needed.add("gymnasium")  # the environment train() is handed
    return needed & set(FRAMEWORK_PACKAGES)


def _limit_sentence(limits):
    return (f"{_number(limits['factor'])} x the reference's time for the same call on the same "
            f"machine, at least {_number(limits['floor_s'])} s, at most "
            f"{_number(limits['cap_s'])} s")


def _number(value):
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def candidate_readme(bank, items, stubs):
    """The kit's README.md for the candidate."""
    requirements = _requirements(bank.root)
    needed = set().union(*(_packages(item, stubs[item.id]) for item in items))
    code_items = [item for item in items if item.kind != "theory"]
    lines = ["# Take-home exercises", "",
             "This kit holds the exercises of your take-home, one folder each:", ""]
    for item in items:
        lines.append(f"- `{item.id}/`: {item.title}. The statement is `{item.id}/README.md`; "
                     f"your answer goes in `{item.id}/{_file_name(item)}`.")
    lines += ["", "Each statement says what to write and how it is checked. Where a statement "
              "mentions `grade` commands, those are the reviewer's grader, not part of this "
              "kit: run `python check_interface.py` instead (below).", "",
              "## Setting up", "",
              "Python 3.10 or newer. In a fresh virtual environment:", "", "```bash",
              "python3 -m venv .venv && source .venv/bin/activate"]
    if "torch" in needed:
        lines.append(f"pip install torch=={TORCH_PIN}        # first: see the note below")
    rest = [package for package in FRAMEWORK_PACKAGES if package != "torch" and package in needed]
    if rest:
        lines.append("pip install " + " ".join(
            f"'{package}{requirements.get(package, '')}'" for package in rest))
    lines += ["```", ""]
    if "torch" in needed:
        lines += [f"The reviewer grades with PyTorch {TORCH_PIN}. Install it before the other "
                  "packages so that pip keeps that version; on a machine without a GPU, "
                  "`pip install torch==" + TORCH_PIN + " --index-url "
                  "https://download.pytorch.org/whl/cpu` gets the smaller CPU build.", ""]
    if not code_items:
        lines += ["The theory items need no package: you only edit YAML files.", ""]
    lines += ["## What is graded", ""]
    for item in items:
        tasks = statement_tasks(bank.statement_file(item.id).read_text(encoding="utf-8"))
        lines.append(f"### `{item.id}`")
        lines.append("")
        if item.kind == "theory":
            lines.append(f"{len(theory_questions(stubs[item.id]))} questions, one check each "
                         "(a blank answer counts as not answered), in these parts:")
        else:
            lines.append("The tasks of the statement, each with one or more checks:")
        lines.append("")
        lines += [f"{number}. {title}" for number, title in tasks]
        lines.append("")
        if item.kind != "theory":
            lines += [f"Time limit of every call: {_limit_sentence(item.limits)}.", ""]
    if code_items:
        lines += ["Each check calls your functions and the reviewer's reference solution on the "
                  "same freshly drawn inputs and compares the results (types, shapes, dtypes, "
                  "then values within a tolerance), as each statement's \"Rules: what is "
                  "checked\" says. Every call runs under a time limit calibrated on the "
                  "reference: the factor above times the reference's own time for the same "
                  "call, within the floor and the cap. A call that raises, runs past its limit "
                  "or crashes fails that check only.", "",
                  "**The device.** Your code runs on the reviewer's machine: on its GPU when "
                  "the framework sees one, else on its CPU. Write code that works on both: "
                  "keep tensors on the device of the inputs, never hard-code `cuda`. Tolerances "
                  "are a little looser on a GPU.", "",
                  "Your code runs in a sandbox that sees only your own file: no network, no "
                  "other files, no writing outside a temporary folder. Import only the packages "
                  "above and the Python standard library.", ""]
    lines += ["## Before you hand in", "", "```bash", f"python {CHECK_SCRIPT}", "```", "",
              "checks the interface of your files in this kit, never whether they are right: "
              "each file imports, every function and class of the stub is there with the "
              "stub's parameters, and one call of each function on small made-up inputs "
              "returns the types, shapes and dtypes its statement asks for (a theory file: "
              "every `qN:` line is still there). The grader's own checks are not in this kit. "
              f"`python {CHECK_SCRIPT} FOLDER` checks a hand-in folder instead.", "",
              "## How to hand in", "",
              "One folder named after you, holding your files directly:", "", "```",
              "<your-name>/"]
    lines += [f"    {_file_name(item)}" for item in items]
    lines += ["```", "",
              "or a zip of that folder. Keep the file names and the function names and "
              "parameters of the stubs; add any helpers you like in the same file. Only these "
              "files are graded: everything an item needs goes in its one file.", "",
              f"_Kit made by dlprep {__version__}._", ""]
    return "\n".join(lines)


def _file_name(item):
    return f"{item.id}.yaml" if item.kind == "theory" else f"{item.id}.py"


def kit_files(bank, item_ids):
    """{relative path: bytes} of the kit of these items (ids as the catalog spells them)."""
    items = [bank.item(item_id) for item_id in item_ids]
    files, stubs, interfaces = {}, {}, {}
    for item in items:
        with bank_stub(bank, item.id) as stub:
            if not stub.pristine:
                raise KitError(f"the bank's stub of {item.id} cannot be found: {stub.note}")
            content = Path(stub.path).read_bytes()
        stubs[item.id] = content.decode("utf-8")
        files[f"{item.id}/README.md"] = bank.statement_file(item.id).read_bytes()
        files[f"{item.id}/{_file_name(item)}"] = content
        interfaces[item.id] = item_interface(item, stubs[item.id])
    files["README.md"] = candidate_readme(bank, items, stubs).encode("utf-8")
    files[CHECK_SCRIPT] = render_check_script(interfaces).encode("utf-8")
    return files


def is_kit(path):
    """Whether `path` is a kit folder or zip that `grade kit` wrote (it may be replaced)."""
    path = Path(path)
    if path.is_dir():
        return (path / CHECK_SCRIPT).is_file()
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("/" + CHECK_SCRIPT) for name in archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def write_kit(bank, item_ids, out, force=False):
    """Write the kit to the folder `out`, or to a zip when `out` ends with .zip (one top
    folder inside, named after the zip). Returns the sorted relative paths written.

    An existing non-empty folder or an existing file is refused unless `force`, and even then
    only when it is a kit made before (never a folder of something else)."""
    out = Path(out)
    as_zip = out.suffix.lower() == ".zip"
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        if not force:
            raise KitError(f"{out} already exists{' and is not empty' if out.is_dir() else ''}: "
                           "name another --out, or add --force to replace it")
        if not is_kit(out) or (as_zip and out.is_dir()):
            raise KitError(f"{out} exists and is not a kit made by `grade kit`; --force only "
                           "replaces a kit: remove it yourself or name another --out")
    if not out.parent.is_dir():
        raise KitError(f"cannot write {out}: the folder {out.parent} does not exist")
    files = kit_files(bank, item_ids)
    try:
        if as_zip:
            _write_zip(out, files)
        else:
            _write_folder(out, files)
    except OSError as exc:
        raise KitError(f"cannot write {out}: {exc.strerror or exc}") from None
    return sorted(files)


def _write_zip(out, files):
    top = out.stem
    now = time.localtime()[:6]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{top}/{name}", date_time=now)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    descriptor, temporary = tempfile.mkstemp(prefix=".dlprep-kit-", dir=out.parent)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(buffer.getvalue())
        os.chmod(temporary, 0o644)
        os.replace(temporary, out)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _write_folder(out, files):
    """Whole or not at all: built beside `out`, then renamed into place."""
    building = Path(tempfile.mkdtemp(prefix=".dlprep-kit-", dir=out.parent))
    try:
        for name, content in files.items():
            path = building / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        building.chmod(0o755)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=".dlprep-old-kit-", dir=out.parent))
            os.replace(out, old / "kit")
            os.replace(building, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(building, out)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
