"""The bank's catalog: every item's metadata, in `grader/catalog.yaml`, strictly validated.

An unknown key, a missing field, a file that is not there or an id that does not follow
`<topic>_<framework>` is a `CatalogError` whose message names the fix. Items are of one of two
kinds: `code` (the default: a stub, a reference and a hidden pytest suite) or `theory` (a
YAML answers file graded against a key by grader/theory/; ids `theory_<subject>`, topic
`theory`, no framework or twin).
"""

import dataclasses
import difflib
import os
from pathlib import Path

FRAMEWORKS = ("torch", "jax")
ITEM_KEYS = {"id", "title", "topic", "framework", "twin", "limits", "kind", "cpu_devices"}
REQUIRED_KEYS = {"id", "title", "topic", "framework"}
KINDS = ("code", "theory")
THEORY_TOPIC = "theory"
THEORY_FRAMEWORK = "both"  # a theory item compares the frameworks; `grade list` shows this
LIMIT_KEYS = {"factor", "floor_s", "cap_s", "load_floor_s", "memory_mb"}


class CatalogError(Exception):
    """The catalog or the bank on disk is inconsistent; the message says how to fix it."""


class UnknownItem(Exception):
    """An id that is not in the catalog; the message suggests the closest ones."""


@dataclasses.dataclass(frozen=True)
class Item:
    id: str
    title: str
    topic: str
    framework: str
    twin: str
    limits: dict
    kind: str = "code"
    cpu_devices: int = None  # CPU devices XLA creates in this item's workers (JAX)


class Bank:
    """The question bank on disk: the catalog plus exercises/, solutions/ and grader/suites/."""

    def __init__(self, root=None, catalog_file=None):
        default_root = Path(__file__).resolve().parent.parent
        self.root = Path(root or os.environ.get("DLPREP_ROOT") or default_root).resolve()
        self.catalog_file = Path(catalog_file or self.root / "grader" / "catalog.yaml")
        self.items = load_catalog(self.catalog_file)

    def item(self, item_id):
        if item_id in self.items:
            return self.items[item_id]
        close = difflib.get_close_matches(item_id.lower(), list(self.items), n=3, cutoff=0.5)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise UnknownItem(f"There is no exercise {item_id!r}.{hint} "
                          "Run `grade list` to see them all.")

    def _suffix(self, item_id):
        item = self.items.get(item_id)
        return ".yaml" if item is not None and item.kind == "theory" else ".py"

    def stub_file(self, item_id):
        return self.root / "exercises" / item_id / f"{item_id}{self._suffix(item_id)}"

    def statement_file(self, item_id):
        return self.root / "exercises" / item_id / "README.md"

    def solution_file(self, item_id):
        return self.root / "solutions" / item_id / f"{item_id}{self._suffix(item_id)}"

    def suite_dir(self, item_id):
        return self.root / "grader" / "suites" / item_id

    def required_files(self, item_id):
        suite = self.suite_dir(item_id)
        if self._suffix(item_id) == ".yaml":  # theory: answers files, and the key
            return [self.statement_file(item_id), self.stub_file(item_id),
                    self.solution_file(item_id), suite / "questions.yaml"]
        return [self.statement_file(item_id), self.stub_file(item_id),
                self.solution_file(item_id), suite / "probes.py", suite / f"test_{item_id}.py"]

    def display(self, path):
        """A path as messages show it: relative to the working directory or the bank when inside
        one of them, otherwise the file's name alone (never the machine's absolute layout)."""
        path = Path(path).resolve()
        for base in (Path.cwd(), self.root):
            try:
                return str(path.relative_to(base))
            except ValueError:
                continue
        return path.name

    def validate_files(self, item_ids=None):
        """Every item (or those named) has its statement, stub, reference, probes and suite."""
        for item_id in item_ids or self.items:
            for path in self.required_files(item_id):
                if not path.is_file():
                    raise CatalogError(f"item {item_id!r} needs {self.display(path)}: create it, "
                                       "or remove the item from grader/catalog.yaml")


def load_catalog(path):
    """{id: Item} from the YAML file, or CatalogError naming what to fix."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except OSError as exc:
        raise CatalogError(f"cannot read the catalog {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or exc
        raise CatalogError(f"{path.name} is not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict) or set(document) - {"defaults", "items"}:
        raise CatalogError(f"{path.name} must be a mapping with only 'defaults' and 'items'")
    defaults = document.get("defaults") or {}
    if set(defaults) - {"limits"}:
        raise CatalogError(f"{path.name}: 'defaults' may only hold 'limits'")
    default_limits = _limits(defaults.get("limits") or {}, "defaults")
    if set(default_limits) != LIMIT_KEYS:
        raise CatalogError(f"{path.name}: defaults.limits must set all of "
                           f"{', '.join(sorted(LIMIT_KEYS))}")
    entries = document.get("items")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path.name}: 'items' must be a non-empty list")
    items = {}
    for index, entry in enumerate(entries):
        item = _item(entry, index, default_limits)
        if item.id in items:
            raise CatalogError(f"{path.name}: item {item.id!r} is listed twice")
        items[item.id] = item
    for item in items.values():
        twin = items.get(item.twin) if item.twin else None
        if item.twin and (twin is None or twin.twin != item.id):
            raise CatalogError(f"{path.name}: item {item.id!r} names twin {item.twin!r}, "
                               "which must exist and name it back")
    return items


def _item(entry, index, default_limits):
    where = f"items[{index}]"
    if not isinstance(entry, dict):
        raise CatalogError(f"catalog {where} must be a mapping")
    unknown = set(entry) - ITEM_KEYS
    if unknown:
        raise CatalogError(f"catalog {where} has unknown key(s) {', '.join(sorted(unknown))}; "
                           f"allowed: {', '.join(sorted(ITEM_KEYS))}")
    if entry.get("kind", "code") not in KINDS:
        raise CatalogError(f"catalog {where}: kind must be one of {', '.join(KINDS)}, "
                           f"not {entry.get('kind')!r}")
    if entry.get("kind") == "theory":
        return _theory_item(entry, where, default_limits)
    missing = REQUIRED_KEYS - set(entry)
    if missing:
        raise CatalogError(f"catalog {where} is missing {', '.join(sorted(missing))}")
    for key in ("id", "title", "topic", "framework"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CatalogError(f"catalog {where}: {key} must be a non-empty string")
    item_id, topic, framework = entry["id"], entry["topic"], entry["framework"]
    if framework not in FRAMEWORKS:
        raise CatalogError(f"catalog item {item_id!r}: framework must be one of "
                           f"{', '.join(FRAMEWORKS)}, not {framework!r}")
    if item_id != f"{topic}_{framework}":
        raise CatalogError(f"catalog item {item_id!r}: ids are <topic>_<framework>, so this "
                           f"one should be {topic}_{framework!s}")
    limits = dict(default_limits, **_limits(entry.get("limits") or {}, item_id))
    return Item(id=item_id, title=entry["title"].strip(), topic=topic, framework=framework,
                twin=entry.get("twin"), limits=limits,
                cpu_devices=_cpu_devices(entry.get("cpu_devices"), item_id))


def _cpu_devices(value, owner):
    """None, or how many host devices XLA is told to create on CPU (1..64)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                              or not 1 <= value <= 64):
        raise CatalogError(f"catalog item {owner!r}: cpu_devices must be a whole number from "
                           f"1 to 64, not {value!r}")
    return value


def _theory_item(entry, where, default_limits):
    """A theory item: id `theory_<subject>`, topic `theory`, no framework, twin or limits."""
    for key in ("framework", "twin", "limits", "cpu_devices"):
        if key in entry:
            raise CatalogError(f"catalog {where}: a theory item has no {key}; remove it")
    missing = {"id", "title", "topic"} - set(entry)
    if missing:
        raise CatalogError(f"catalog {where} is missing {', '.join(sorted(missing))}")
    for key in ("id", "title", "topic"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise CatalogError(f"catalog {where}: {key} must be a non-empty string")
    item_id, subject = entry["id"], entry["id"].removeprefix(THEORY_TOPIC + "_")
    if (entry["topic"] != THEORY_TOPIC or subject == item_id or not subject
            or not subject.replace("_", "").isalnum() or not subject.islower()):
        raise CatalogError(f"catalog item {item_id!r}: theory items have topic: theory and "
                           "ids theory_<subject> (lower case letters, digits, underscores)")
    return Item(id=item_id, title=entry["title"].strip(), topic=THEORY_TOPIC,
                framework=THEORY_FRAMEWORK, twin=None, limits=dict(default_limits),
                kind="theory")


def _limits(limits, owner):
    if not isinstance(limits, dict):
        raise CatalogError(f"catalog {owner}: limits must be a mapping")
    unknown = set(limits) - LIMIT_KEYS
    if unknown:
        raise CatalogError(f"catalog {owner}: unknown limit(s) {', '.join(sorted(unknown))}; "
                           f"allowed: {', '.join(sorted(LIMIT_KEYS))}")
    for key, value in limits.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise CatalogError(f"catalog {owner}: limit {key} must be a positive number")
    return limits
