"""`grade hint ID`: the next hint of a task, from a nudge to a near-giveaway."""

import textwrap

import click

from grader.cli.common import InternalError, UserError, echo, find_item, load_bank


@click.command(epilog="""\b
Examples:
  grade hint linear_regression_jax              the next hint, for the first failing task
  grade hint linear_regression_jax --task 3     the next hint for task 3
  grade hint linear_regression_jax --task 3 --all
  grade hint linear_regression_jax --all        every hint of every task
""")
@click.argument("item_id", metavar="ID")
@click.option("--task", type=click.IntRange(min=1),
              help="The statement's task (default: the first one that failed last time).")
@click.option("--all", "show_all", is_flag=True,
              help="Show every hint of the task (of all tasks without --task).")
def hint(item_id, task, show_all):
    """Show the next hint for exercise ID, one rung at a time."""
    from grader import hints, progress

    bank = load_bank()
    item = find_item(bank, item_id)
    try:
        ladders = hints.load(bank, item.id)
    except hints.HintsError as exc:  # the bank's fault, not the learner's
        raise InternalError(str(exc)) from None
    if task is not None and task not in ladders:
        raise UserError(f"{item.id} has no task {task}; its tasks are "
                        f"{', '.join(map(str, ladders))}.")
    seen = hints.Seen(bank)
    if show_all:
        for number in [task] if task else ladders:
            echo(f"Task {number}", bold=True)
            for rung, text in enumerate(ladders[number], 1):
                echo(_wrapped(text, f"  {rung}. "))
            seen.mark(item.id, number, len(ladders[number]))
    else:
        failing = [number for number in progress.failing_tasks(progress.load(bank), item.id)
                   if number in ladders]
        number, moved_on = (task, None) if task else _default_task(ladders, seen, item.id,
                                                                   failing)
        shown = seen.count(item.id, number)
        ladder = ladders[number]
        if shown >= len(ladder):
            still = " and it still failed last time" if number in failing else ""
            others = [n for n in ladders if n != number
                      and seen.count(item.id, n) < len(ladders[n])]
            later = f"; `grade hint {item.id} --task {others[0]}` gives the next hint of " \
                    f"task {others[0]}" if others else ""
            echo(f"All {len(ladder)} hints for task {number} of {item.id} were shown{still}: "
                 f"`grade hint {item.id} --task {number} --all` shows them again{later}.")
            return
        if moved_on:
            echo(f"(every hint for task {moved_on} was shown: `grade hint {item.id} --task "
                 f"{moved_on} --all` shows them again; this is task {number})", dim=True)
        echo(f"Hint {shown + 1} of {len(ladder)} for task {number} of {item.id}:", bold=True)
        echo(_wrapped(ladder[shown], "  "))
        seen.mark(item.id, number, shown + 1)
    seen.save()


def _default_task(ladders, seen, item_id, failing):
    """(task, moved on from) for a hint without --task: the first task that failed last time,
    even when its hints are all shown (a failing task is never skipped silently); without a
    failing task, the first with hints left, and the task before it whose hints ran out."""
    if failing:
        return failing[0], None
    left = [number for number in ladders if seen.count(item_id, number) < len(ladders[number])]
    if not left:
        return next(iter(ladders)), None
    earlier = [number for number in ladders if number < left[0]]
    return left[0], (earlier[-1] if earlier else None)


def _wrapped(text, lead):
    return textwrap.fill(text, width=88, initial_indent=lead, subsequent_indent=" " * len(lead))
