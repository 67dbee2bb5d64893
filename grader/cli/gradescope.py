"""`grade gradescope ID... --out autograder.zip`: a Gradescope autograder bundle."""

import click

from grader.cli.common import DEVICES, UserError, echo, find_item, load_bank


@click.command(epilog="""\b
Examples:
  grade gradescope linear_regression_torch --out autograder.zip
  grade gradescope cnn_jax cnn_torch --out autograder.zip --seed 1234
  grade gradescope cnn_jax --out autograder.zip --container-is-the-sandbox

\b
Upload the zip as the assignment's autograder ("Zip file upload", Ubuntu base image).
""")
@click.argument("item_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--out", "out", required=True, metavar="FILE.zip",
              help="The autograder zip to write.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1),
              help="The assignment's seed, the same for every student (default: a fresh one).")
@click.option("--device", type=click.Choice(DEVICES), default="auto", show_default=True,
              help="Where the students' code runs on Gradescope's machines.")
@click.option("--container-is-the-sandbox", "container", is_flag=True,
              help="Grade without the bubblewrap sandbox (--sandbox none), the container being "
                   "the isolation boundary; every report says so. Without it, a container "
                   "where the sandbox cannot start refuses to grade (score 0, with the reason).")
def gradescope(item_ids, out, seed, device, container):
    """Write a Gradescope autograder bundle for items ID...: setup.sh, run_autograder and the
    hidden suites, references and data of those items only."""
    from grader.assessment.gradescope_bundle import BundleError, build

    if not out.endswith(".zip"):
        raise UserError("--out must name a .zip file (Gradescope uploads a zip)")
    bank = load_bank()
    ids = list(dict.fromkeys(find_item(bank, item_id).id for item_id in item_ids))
    try:
        config = build(bank, ids, out, seed=seed, device=device,
                       container_is_the_sandbox=container)
    except BundleError as exc:
        raise UserError(str(exc)) from None
    echo(f"Autograder of {', '.join(ids)} written to {out} (seed {config['seed']}, device "
         f"{device}).", bold=True)
    if container:
        echo("Graded without the sandbox: the container is the isolation boundary (every "
             "report says so).")
    else:
        echo("The sandbox is required: where Gradescope's container blocks it, each submission "
             "gets score 0 and the reason; rebuild with --container-is-the-sandbox to grade "
             "there.")
