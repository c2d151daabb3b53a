"""Markdown's render time against prose: each adversarial text of tests/test_markdown.py, with the inline
budget (`service.markdown_text._parse_inline_within_budget`) and without it, and what each special character
costs (`INLINE_COST` is set from these figures, rounded up).

Every figure is a ratio to prose of the same length (the lessons' text), each side the best of `--runs`,
measured in turn so that a busy machine slows both alike. It exits 0 whatever the figures: it is a measurement.
"""
import argparse
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

import report  # noqa: E402
from service import markdown_text  # noqa: E402
from tests.test_markdown import (  # noqa: E402
    ATTACKS, MAX_RATIO_TO_PROSE, _mixed_into_prose, _repeated, ratio_to_prose)

CHARACTERS = "\n!#$%&*+-:<=>@[\\]^_`{}~()"
SIZE = 20_000


def character_costs(runs: int) -> None:
    """Per occurrence, in letters of prose: the parser alone on a run of the character, the character alternated
    with a letter, and the character mixed into prose at 30% (the highest of the three is what counts)."""
    print("character  run  alternated  30% in prose   (cost per occurrence, in letters of prose)")
    for character in CHARACTERS:
        run = ratio_to_prose(_repeated(character, SIZE), runs)
        alternated = 2 * ratio_to_prose(_repeated(character + "a", SIZE), runs) - 1
        chance = _mixed_into_prose(0.3, SIZE, character)
        mixed = (ratio_to_prose(chance, runs) - 0.7) / 0.3
        print(f"{character!r:9} {run:5.1f} {alternated:10.1f} {mixed:12.1f}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--characters", action="store_true", help="also measure each character's cost")
    args, _ = parser.parse_known_args()  # `make bench` passes every benchmark the same arguments
    print(f"{'text (50,000 characters)':32} {'parser alone':>12} {'with budget':>12}  (times prose)")
    worst_alone = worst_guarded = (0.0, "")
    for name, text in ATTACKS.items():
        budget = markdown_text.MAX_COST_PER_CHARACTER
        markdown_text.MAX_COST_PER_CHARACTER = float("inf")
        alone = ratio_to_prose(text, args.runs)
        markdown_text.MAX_COST_PER_CHARACTER = budget
        guarded = ratio_to_prose(text, args.runs)
        print(f"{name:32} {alone:12.1f} {guarded:12.1f}", flush=True)
        worst_alone, worst_guarded = max(worst_alone, (alone, name)), max(worst_guarded, (guarded, name))
    report.figure("worst adversarial text, with the budget / prose", worst_guarded[0], "<=", MAX_RATIO_TO_PROSE,
                  baseline=f"prose as long; worst: {worst_guarded[1]}")
    report.figure("worst adversarial text, parser alone / prose", worst_alone[0],
                  baseline=f"prose as long; worst: {worst_alone[1]}")
    if args.characters:
        markdown_text.MAX_COST_PER_CHARACTER = float("inf")
        character_costs(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
