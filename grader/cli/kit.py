"""`grade kit ID... --out DIR|kit.zip`: the candidate kit of a hiring take-home."""

import click

from grader.cli.common import UserError, echo, find_item, load_bank


@click.command(epilog="""\b
Examples:
  grade kit cnn_jax qlearning_torch --out kit/        a folder to copy or email
  grade kit cnn_jax theory_speed --out takehome.zip   one zip
  grade kit cnn_jax --out kit/ --force                replace a kit made before
""")
@click.argument("item_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--out", "out", required=True, metavar="DIR|FILE.zip",
              help="Where to write the kit: a folder, or a zip when it ends with .zip.")
@click.option("--force", is_flag=True,
              help="Replace a kit that --out already holds (never anything else).")
def kit(item_ids, out, force):
    """Write the candidate kit of items ID...: statements, stubs, setup and an interface check.

    The kit holds nothing of the references, hidden checks, hints, theory keys or data: only
    each item's statement and stub, a README (setup, what is graded, time limits, how to hand
    in) and check_interface.py, which checks the interface of the candidate's files.
    """
    from grader.assessment.kit import CHECK_SCRIPT, KitError, write_kit

    bank = load_bank()
    ids = list(dict.fromkeys(find_item(bank, item_id).id for item_id in item_ids))
    try:
        written = write_kit(bank, ids, out, force=force)
    except KitError as exc:
        raise UserError(str(exc)) from None
    echo(f"Kit of {', '.join(ids)} written to {out} ({len(written)} files).", bold=True)
    echo(f"Send it to the candidate: its README.md says how to set up, what is graded and how "
         f"to hand in; `python {CHECK_SCRIPT}` checks the interface of their files. Grade the "
         "submissions with `grade batch`.")
