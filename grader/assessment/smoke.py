"""Interface check of a dlprep candidate kit: run `python check_interface.py` before handing in.

It checks only the interface of your files, never whether they are right: each file imports,
each function and class of the stub exists with the stub's parameters, and one call of each
function (on small made-up inputs) returns the shapes and dtypes the statement asks for. The
reviewer's grader runs the real checks, which this script does not know.

    python check_interface.py              your files in the kit's <id>/<id>.py
    python check_interface.py alice/       the files of a hand-in folder, alice/<id>.py
    python check_interface.py alice/ --items cnn_jax

Exit status: 0 every interface check passed, 1 some did not, 2 a usage error.

This file is a template: `grade kit` writes it into the kit with ITEMS filled in.
"""

import argparse
import importlib.util
import inspect
import os
import re
import sys
import traceback

ITEMS = {}  # KIT-DATA: replaced by grader/assessment/kit.py with each item's interface

NOT_IMPLEMENTED = "still the stub: it raises NotImplementedError"


class Mismatch(Exception):
    """A value that does not have the stated type, shape or dtype."""


def _dtype_name(value):
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return type(value).__name__
    return str(dtype).replace("torch.", "")


def expect(value, shape, dtype, what):
    """`value` is an array or tensor of `shape` (a tuple; None: any) and `dtype` (a name such
    as "float32", "int" for any integer dtype; None: any)."""
    got_shape = getattr(value, "shape", None)
    if got_shape is None:
        raise Mismatch(f"{what}: expected an array of shape {shape}, got {type(value).__name__}")
    got_shape = tuple(int(size) for size in got_shape)
    if shape is not None and got_shape != tuple(shape):
        raise Mismatch(f"{what}: expected shape {tuple(shape)}, got {got_shape}")
    name = _dtype_name(value)
    if dtype == "int":
        if not re.fullmatch(r"u?int\d*", name):
            raise Mismatch(f"{what}: expected an integer dtype, got {name}")
    elif dtype is not None and name != dtype:
        raise Mismatch(f"{what}: expected dtype {dtype}, got {name}")


def expect_type(value, kinds, what):
    """`value` is one of the Python types `kinds` (a tuple)."""
    if not isinstance(value, kinds):
        names = " or ".join(kind.__name__ for kind in kinds)
        raise Mismatch(f"{what}: expected {names}, got {type(value).__name__}")


def expect_like(got, expected_shapes, what):
    """`got` is a dict with the keys of `expected_shapes` ({name: shape or nested dict}) and an
    array of that shape (float32) under each."""
    expect_type(got, (dict,), what)
    if sorted(got) != sorted(expected_shapes):
        raise Mismatch(f"{what}: expected the keys {sorted(expected_shapes)}, got {sorted(got)}")
    for key, shape in expected_shapes.items():
        if isinstance(shape, dict):
            expect_like(got[key], shape, f"{what}[{key!r}]")
        else:
            expect(got[key], shape, "float32", f"{what}[{key!r}]")


def _parameters(function):
    """[(name, kind, has_default)] of a callable, as the stub's data lists them."""
    listed = []
    for parameter in inspect.signature(function).parameters.values():
        listed.append([parameter.name, parameter.kind.name,
                       parameter.default is not inspect.Parameter.empty])
    return listed


def _describe(parameters):
    shown = []
    for name, kind, has_default in parameters:
        prefix = {"VAR_POSITIONAL": "*", "VAR_KEYWORD": "**"}.get(kind, "")
        shown.append(prefix + name + ("=..." if has_default else ""))
    return "(" + ", ".join(shown) + ")"


def signature_problem(function, wanted, owner):
    """None when `function` takes the stub's parameters (same names, order and kinds; a
    parameter with a default in the stub keeps one; extra parameters need defaults)."""
    try:
        got = _parameters(function)
    except (TypeError, ValueError) as exc:
        return f"{owner}: its signature cannot be read ({exc})"
    head = got[:len(wanted)]
    same = [(name, kind) for name, kind, _ in head] == [(name, kind) for name, kind, _ in wanted]
    defaults_kept = all(g[2] or not w[2] for g, w in zip(head, wanted))
    extras_optional = all(has_default or kind.startswith("VAR_")
                          for _, kind, has_default in got[len(wanted):])
    if same and defaults_kept and extras_optional:
        return None
    return f"{owner}: expected parameters {_describe(wanted)}, got {_describe(got)}"


def load(path, module_name):
    """The module of the file at `path`, imported under `module_name`."""
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class Report:
    def __init__(self):
        self.failures = 0

    def line(self, verdict, text):
        if verdict == "FAIL":
            self.failures += 1
        print(f"  {verdict:<4} {text}")


def _own_frames(error, path):
    """The last line of the traceback that points into the candidate's file, if any."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            return f" (line {frame.lineno}: {frame.line})"
    return ""


def check_code_item(item_id, data, path, report):
    try:
        module = load(path, item_id)
    except BaseException as exc:  # noqa: BLE001 - a SystemExit or anything else the file raises
        if isinstance(exc, KeyboardInterrupt):
            raise
        report.line("FAIL", f"import {os.path.basename(path)}: {type(exc).__name__}: {exc}"
                    f"{_own_frames(exc, path)}")
        return
    report.line("ok", f"import {os.path.basename(path)}")

    present = set()
    for class_name, methods in data["classes"].items():
        cls = getattr(module, class_name, None)
        if not inspect.isclass(cls):
            report.line("FAIL", f"class {class_name}: missing")
            continue
        problems = [signature_problem(getattr(cls, method, None), wanted,
                                      f"{class_name}.{method}")
                    if callable(getattr(cls, method, None)) else f"{class_name}.{method}: missing"
                    for method, wanted in methods.items()]
        problems = [problem for problem in problems if problem]
        for problem in problems:
            report.line("FAIL", problem)
        if not problems:
            report.line("ok", f"class {class_name} with {', '.join(methods)}")
    for name, wanted in data["functions"].items():
        function = getattr(module, name, None)
        if not callable(function):
            report.line("FAIL", f"{name}: missing")
            continue
        problem = signature_problem(function, wanted, name)
        if problem:
            report.line("FAIL", problem)
        else:
            present.add(name)
            report.line("ok", f"{name}{_describe(wanted)}")

    namespace = {"m": module, "expect": expect, "expect_type": expect_type,
                 "expect_like": expect_like, "Mismatch": Mismatch}
    called = set()
    for call in data["calls"]:
        name, needs = call["function"], call["needs"]
        if name not in present:
            continue  # missing or with other parameters: said above
        missing = [need for need in needs if need not in called]
        if missing:
            report.line("skip", f"{name}: not called, it needs {', '.join(missing)} to work first")
            continue
        try:
            exec(compile(call["code"], f"<interface check of {name}>", "exec"), namespace)
        except NotImplementedError as exc:
            report.line("FAIL", f"{name}: {NOT_IMPLEMENTED}{_own_frames(exc, path)}")
            continue
        except Mismatch as exc:
            report.line("FAIL", f"{name}: {exc}")
            continue
        except BaseException as exc:  # noqa: BLE001 - the candidate's code raised
            if isinstance(exc, KeyboardInterrupt):
                raise
            report.line("FAIL", f"{name}: raised {type(exc).__name__}: {exc}"
                        f"{_own_frames(exc, path)}")
            continue
        called.add(name)
        report.line("ok", f"{name}: {call['says']}")
    for name, why in data["not_called"].items():
        if name in present:
            if _only_raises(module, name):
                report.line("FAIL", f"{name}: {NOT_IMPLEMENTED}")
            else:
                report.line("note", f"{name}: not called here ({why}); only its signature "
                            "was checked")


def _only_raises(module, name):
    """Whether the function's body is still only `raise NotImplementedError` (comments and the
    docstring aside), read from its source."""
    import ast
    import textwrap

    try:
        source = textwrap.dedent(inspect.getsource(getattr(module, name)))
        body = ast.parse(source).body[0].body
    except (OSError, TypeError, SyntaxError, IndexError, AttributeError):
        body = []  # no source to read: only a call would tell
    statements = [node for node in body if not (isinstance(node, ast.Expr) and
                                                isinstance(node.value, ast.Constant))]
    return (len(statements) == 1 and isinstance(statements[0], ast.Raise)
            and "NotImplementedError" in ast.dump(statements[0]))


def check_theory_item(item_id, data, path, report):
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        report.line("FAIL", f"{os.path.basename(path)} cannot be read: {exc}")
        return
    report.line("ok", f"{os.path.basename(path)} reads as UTF-8 text")
    answered, blank, missing = [], [], []
    for key in data["questions"]:
        found = re.search(rf"^{re.escape(key)}:(.*)$", text, re.MULTILINE)
        if not found:
            missing.append(key)
        elif found.group(1).split("#")[0].strip():
            answered.append(key)
        else:
            blank.append(key)
    if missing:
        report.line("FAIL", f"no line for {', '.join(missing)}: keep every `qN:` line of the "
                    "blank answers file, each at the start of a line")
    else:
        report.line("ok", f"every question has its line ({len(data['questions'])})")
    if blank:
        report.line("note", f"{len(blank)} left blank: {', '.join(blank)}")


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Check the interface of your files (imports, names, signatures, shapes "
                    "and dtypes); never whether they are right.")
    parser.add_argument("folder", nargs="?", default=None,
                        help="a hand-in folder holding <id>.py (or <id>.yaml) files; default: "
                             "the kit's own <id>/ folders")
    parser.add_argument("--items", nargs="+", metavar="ID", help="check only these items")
    args = parser.parse_args(argv)
    kit = os.path.dirname(os.path.abspath(__file__))
    wanted = args.items or list(ITEMS)
    unknown = [item_id for item_id in wanted if item_id not in ITEMS]
    if unknown:
        print(f"unknown item {', '.join(unknown)}; this kit has {', '.join(ITEMS)}",
              file=sys.stderr)
        return 2
    if args.folder is not None and not os.path.isdir(args.folder):
        print(f"{args.folder} is not a folder", file=sys.stderr)
        return 2
    report = Report()
    for item_id in wanted:
        data = ITEMS[item_id]
        if args.folder is None:
            path = os.path.join(kit, item_id, data["file"])
        else:
            path = os.path.join(args.folder, data["file"])
        print(f"{item_id} ({os.path.relpath(path)})")
        if not os.path.isfile(path):
            report.line("FAIL", f"{path} is missing: hand in {data['file']}")
            continue
        if data["kind"] == "theory":
            check_theory_item(item_id, data, path, report)
        else:
            check_code_item(item_id, data, path, report)
    print()
    if report.failures:
        print(f"{report.failures} interface problem(s): fix them before handing in.")
    else:
        print("The interface is as the statements ask. This says nothing about whether the "
              "results are right: the reviewer's grader checks that.")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
