"""Which reply trimmer keeps what the member wrote and drops the rest, on the project's corpus of replies.

Not a speed benchmark: a comparison that chose service/inbound/trim.py's
libraries. Each .eml in tests/fixtures/inbound/replies/ is read as the
pipeline reads it (service.inbound.message.read_message), trimmed by each
candidate, and passes when the member's words are kept (EXPECTED, from the
fixture table the tests use) and nothing of our quoted email, its
attribution line or the member's signature is left (LEFTOVERS).

    .venv/bin/python bench/reply_trimmers.py [-v]

The project's trimmer (trim.py) is to keep every fixture right; the others' counts are shown for comparison.
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT)]

import report  # noqa: E402
import quotequail  # noqa: E402
from mailparser_reply import EmailReplyParser  # noqa: E402

from service import create_app  # noqa: E402
from service.inbound.message import read_message  # noqa: E402
from service.inbound.trim import reply_text  # noqa: E402
from tests.reply_corpus import CORPUS, FIXTURES, LEFTOVERS  # noqa: E402

CANDIDATES = {
    "mail-parser-reply": lambda incoming: EmailReplyParser(languages=["en", "es"]).parse_reply(incoming.text) or "",
    "quotequail": lambda incoming: "\n".join(
        part for expanded, part in quotequail.quote(incoming.text, quote_intro_line=True) if expanded),
    "trim.py (both + glue)": reply_text,
}


def passes(name: str, trimmed: str) -> bool:
    return CORPUS[name].words in trimmed and not any(leftover in trimmed for leftover in LEFTOVERS)


def main(argv=None) -> int:
    verbose = "-v" in (sys.argv[1:] if argv is None else argv)
    with create_app({"TESTING": True}).app_context():
        results = {}
        for path in sorted(FIXTURES.glob("*.eml")):
            incoming = read_message(path.read_bytes())
            results[path.stem] = {label: trim(incoming) for label, trim in CANDIDATES.items()}
    width = max(map(len, results)) + 2
    print("fixture".ljust(width) + "".join(label.ljust(24) for label in CANDIDATES))
    for name, outputs in results.items():
        print(name.ljust(width) + "".join(("pass" if passes(name, out) else "FAIL").ljust(24)
                                          for out in outputs.values()))
    passed = {label: sum(passes(n, o[label]) for n, o in results.items()) for label in CANDIDATES}
    print("passed".ljust(width) + "".join(f"{passed[label]}/{len(results)}".ljust(24) for label in CANDIDATES))
    for label, count in passed.items():
        chosen = label == "trim.py (both + glue)"
        report.figure(f"{label}: fixtures trimmed right", count, ">=" if chosen else None,
                      len(results) if chosen else None, baseline=f"{len(results)} fixtures")
    if verbose:
        for name, outputs in results.items():
            for label, out in outputs.items():
                if not passes(name, out):
                    print(f"--- {name}, {label}:\n{out}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
