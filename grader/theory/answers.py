"""Reading answers: one answer in canonical form (read_answer), whether it is right (is_right),
and the answers file as a whole (read_answers_file, load_answers)."""

import dataclasses
import difflib
import json
import re

from grader.theory.key import KIND_NAMES, AnswerProblem, AnswersProblem

TRUE_WORDS = {"true", "t", "yes", "y"}
FALSE_WORDS = {"false", "f", "no", "n"}


def read_answer(question, value):
    """The answer in canonical form, None when blank, or AnswerProblem saying what form it needs.

    `value` is a YAML value (list, bool, number, str) or the raw text typed in the quiz.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    kind = question.kind
    if kind == "single":
        return _letter(question, value)
    if kind == "multiple":
        parts = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value).strip(
            " []"))
        if len(parts) == 1 and isinstance(parts[0], str) and len(parts[0].strip()) > 1 \
                and parts[0].strip().isalpha():
            parts = list(parts[0].strip())  # "ac"
        letters = frozenset(_letter(question, part) for part in parts if str(part).strip())
        return letters or None
    if kind == "truefalse":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise AnswerProblem(f"{question.id} is true or false: answer true or false "
                            f"(got {_shown(value)})")
    if kind == "numeric":
        if not isinstance(value, bool):
            try:
                return float(str(value).strip().replace("_", ""))
            except ValueError:
                pass
        raise AnswerProblem(f"{question.id} asks for a number (got {_shown(value)})")
    if kind == "bug":
        text = str(value).strip().lower().removeprefix("line").strip()
        if not isinstance(value, (bool, list, dict)) and text.isdigit():
            return int(text)
        raise AnswerProblem(f"{question.id} asks for one line number of its code, like 3 "
                            f"(got {_shown(value)})")
    if isinstance(value, (list, dict)):  # exact, output
        raise AnswerProblem(f"{question.id} asks for text: put your answer in quotes, like "
                            "\"[1, 2]\"")
    return _text(str(value), kind)


def _letter(question, value):
    letter = str(value).strip().lower().strip("().[]")
    if isinstance(value, str) and letter in question.choices:
        return letter
    letters = ", ".join(question.choices)
    how = "one letter" if question.kind == "single" else "letters"
    raise AnswerProblem(f"{question.id} is {KIND_NAMES[question.kind]}: answer {how} of "
                        f"{letters} (got {_shown(value)})")


# The answer-form policy, one matcher for the answers file and the quiz alike (stated in the
# README's "Theory items" and in every stub): POLICY is what a learner reads.
POLICY = (
    "Spaces and line breaks: leading and trailing ones are ignored, and a run of them counts as "
    "one space, never as none (`0.0 5.0` is not `0.05.0`), and spaces next to brackets, "
    "commas and colons do not count (`[1, 2]`, `[1,2]`). Printed output: letter case is "
    "ignored (`True`, `true`) and numbers compare by value (`9`, `9.`, `9.0`; `1e-3`, "
    "`0.001`). Names of code: case matters (`jax.jit`, never `JAX.JIT`), except for acronyms "
    "(`DDP`); a call written out counts as the name it calls (`jax.jacfwd(f)`); a module and "
    "the function of the same name in it are one answer (`torch.export`, "
    "`torch.export.export`); a keyword argument may be given as `name`, `name=value` or a "
    "call that passes it (`jax.jit(f, static_argnums=0)`).")

NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


class Named(str):
    """An exact answer's canonical name, with the keyword arguments its call passes."""

    keywords = frozenset()


def _text(text, kind):
    text = text.strip().strip("`").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1].strip()
    text = re.sub(r"\s+", " ", text)
    if kind == "output":
        text = re.sub(r" ?([][(){},:]) ?", r"\1", text)  # `[1., 2.]` reads as `[1.,2.]`
        return NUMBER.sub(lambda number: repr(float(number.group())), text).lower()
    named = Named(_namesake(_named(text)))
    named.keywords = frozenset(re.findall(r"[(,] ?([A-Za-z_]\w*) ?=(?!=)", text))
    return named


def _namesake(name):
    """`torch.export.export` -> `torch.export`: a module and its namesake function are one."""
    parts = name.split(".")
    while len(parts) > 2 and parts[-1] == parts[-2] and parts[-1].isidentifier():
        parts.pop()
    return ".".join(parts)


def _named(text):
    """What an exact answer names: `f(a)(b)` -> `f`, `keyword=value` -> `keyword=`.

    The name is asked for, so the arguments of a call written out are not graded; case is
    kept, since Python names are case-sensitive (`jax.jit`, never `JAX.JIT`).
    """
    while text.endswith(")"):
        depth, start = 0, None
        for at in range(len(text) - 1, -1, -1):
            depth += {")": 1, "(": -1}.get(text[at], 0)
            if depth == 0:
                start = at
                break
        head = text[:start].rstrip() if start else ""
        if not head or not (head[-1].isalnum() or head[-1] in "_)]"):
            break  # unbalanced, or a bare parenthesised text: not a call
        text = head
    keyword = re.fullmatch(r"([A-Za-z_][\w.]*) ?= ?\S.*", text)
    return f"{keyword.group(1)}=" if keyword else text


def _acronym(text):
    return re.fullmatch(r"[A-Z][A-Z0-9]+", text) is not None


def _shown(value):
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)


def is_right(question, answer):
    """Whether a canonical answer (from read_answer) is right, by the one policy (POLICY)."""
    if question.kind == "numeric":
        return abs(answer - question.answer) <= question.tolerance
    if question.kind in ("exact", "output"):
        variants = {_text(str(text), question.kind)
                    for text in (question.answer, *question.accept)}
        if answer in variants:
            return True
        if question.kind == "output":
            return False
        # an acronym (DDP) is not code: it matches in any case; names of code match exactly
        return any(_acronym(variant) and answer.lower() == variant.lower()
                   for variant in variants) or any(
            variant.endswith("=") and variant[:-1] in getattr(answer, "keywords", ())
            for variant in variants)
    if question.kind == "bug":
        return answer in {question.answer, *question.accept}
    return answer == question.answer


# the answers file ---------------------------------------------------------------------------

@dataclasses.dataclass
class Given:
    """One answer as it stands in the file: its line, and its value."""

    line: int
    value: object


def read_answers_file(path):
    """The answers file's text; AnswersProblem past ANSWERS_CAP bytes (never read whole)."""
    with open(path, "rb") as handle:
        data = handle.read(ANSWERS_CAP + 1)
    if len(data) > ANSWERS_CAP:
        raise AnswersProblem(f"the answers file is larger than {ANSWERS_CAP // 1024} KiB; it "
                             "holds one short line per question")
    return data.decode("utf-8")


def load_answers(text, key):
    """{question id: Given} from the answers file's text, or AnswersProblem naming the line.

    Anchors and aliases are refused before anything is built: an answers file never needs
    them, and nested aliases can expand a small file into billions of nodes.
    """
    import yaml

    if len(text) > ANSWERS_CAP:
        raise AnswersProblem(f"the answers file is larger than {ANSWERS_CAP // 1024} KiB")
    try:
        for token in yaml.scan(text, Loader=yaml.SafeLoader):
            if isinstance(token, (yaml.AnchorToken, yaml.AliasToken)):
                raise AnswersProblem(f"line {token.start_mark.line + 1}: anchors and aliases "
                                     "(`&name`, `*name`) are not allowed in an answers file; "
                                     "write each answer out")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        values = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AnswersProblem(f"the answers file is not valid YAML: {_yaml_problem(exc)}. "
                             "Each answer is one line `q1: b` (a colon, then a space).") from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise AnswersProblem(f"line {root.start_mark.line + 1}: the answers file must be lines "
                             f"like `q1: b`, one per question, not a {type(values).__name__}")
    given, ids = {}, [q.id for q in key.questions]
    for key_node, value_node in root.value:
        name, line = str(key_node.value), key_node.start_mark.line + 1
        if name not in ids:
            raise AnswersProblem(f"line {line}: there is no question {name!r} in {key.item_id} "
                                 f"(they are {ids[0]} to {ids[-1]}).{_suggest(name, ids)}")
        if name in given:
            raise AnswersProblem(f"line {line}: {name} is answered twice (first on line "
                                 f"{given[name].line}); keep one")
        value = values[name]
        question = key.question(name)
        if question.kind in ("exact", "output") and isinstance(value_node, yaml.ScalarNode) \
                and value is not None:
            value = value_node.value  # the text as written: `1e-3`, `True`, `6.0` stay text
        given[name] = Given(line=line, value=value)
    return given


ANSWERS_CAP = 256 * 1024  # bytes of an answers file


def _yaml_problem(exc):
    """Where and what, from a PyYAML error: the line where the trouble started comes first."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark, context = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
    if context is not None and mark is not None and context.line != mark.line:
        return (f"line {context.line + 1}, column {context.column + 1}: {exc.context}, "
                f"{problem} (noticed at line {mark.line + 1})")
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return problem


def _suggest(name, ids):
    plain = re.fullmatch(r"[qQ]?0*(\d+)", name)
    if plain and f"q{plain.group(1)}" in ids:
        return f" Did you mean q{plain.group(1)}?"
    close = difflib.get_close_matches(name, ids, n=1, cutoff=0.5)
    return f" Did you mean {close[0]}?" if close else ""
