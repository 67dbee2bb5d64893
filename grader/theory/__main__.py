"""`python -m grader.theory [ID...]`: rewrite the files generated from the keys."""

import sys

from grader.theory import generated_files, render_seed_mapping, theory_items


def main(argv=None):
    """Rewrite the files generated from the keys: `python -m grader.theory [ID...]`."""
    from grader.catalog import Bank

    bank = Bank()
    files = {bank.root / "docs" / "theory_seed_mapping.md": render_seed_mapping(bank)}
    for item_id in (argv if argv is not None else sys.argv[1:]) or [
            item.id for item in theory_items(bank)]:
        files.update(generated_files(bank, item_id))
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {bank.display(path)}")


if __name__ == "__main__":
    main()
