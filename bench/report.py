"""How a benchmark records its figures for the one table `make bench` ends with.

Each target a benchmark checks becomes one figure: what was measured (usually a
ratio to a baseline measured in the same run), that baseline, and the target
with its direction. `figure()` and `check()` return the `(text, ok)` pair that
`fanout.print_verdicts` prints, and `ok` is worked out here from the value,
the direction and the target, so the printed verdict and the table can't
disagree. A benchmark records at its verdict lines, nowhere else:

    import report  # noqa: E402  (bench/ is on sys.path, as for `import fanout`)

    verdicts.append(report.figure(
        "members list / login page", ratio, "<=", TARGET_OF_LOGIN,
        baseline=f"login page, {login:.1f} ms",
        text=f"members list: {ratio:.2f} x the login page <= {TARGET_OF_LOGIN}"))   # the line it printed before
    verdicts.append(report.check("every row sent", complete))
    fanout.print_verdicts(verdicts)

The name (second column of the table) must not contain the measured value: two
runs are compared by benchmark and name. `unit` is printed after the value and
the target ("ms", "MB"; nothing for a ratio). `target=None` records a figure
that is printed for what it measures, without a verdict (record it alone, not
among the verdicts: its ok is True). `check()` is for a yes/no target (nothing
lost, no errors).

A new benchmark is a bench/*.py with a top-level `def main(` returning 0
whatever its verdicts, that accepts (or ignores) the other benchmarks'
arguments. In the table, one that exits non-zero shows as CRASHED, after any
figure it recorded first; one that records nothing, as NO FIGURES.

bench/run.py gives each benchmark's process the path of a file of its own in
BENCH_FIGURES; each call appends one JSON line to it, and bench/run.py reads
them when the benchmark exits (bench/results.py draws the table). A benchmark
run on its own (`.venv/bin/python bench/lists.py`) records nothing and prints
as before.
"""
import json
import operator
import os

ENVIRONMENT = "BENCH_FIGURES"
DIRECTIONS = {"<=": operator.le, ">=": operator.ge, "<": operator.lt, ">": operator.gt, "==": operator.eq}


def figure(name: str, value: float, direction: str | None = None, target: float | None = None, *,
           baseline: str = "", unit: str = "", text: str | None = None) -> tuple[str, bool]:
    """Record one measured figure against its target; return (text, ok) for fanout.print_verdicts.

    Without a target, ok is True: the figure is shown, it has no verdict."""
    if (direction is None) != (target is None) or (direction is not None and direction not in DIRECTIONS):
        raise ValueError(f"a target needs a direction among {', '.join(DIRECTIONS)}: {direction!r} {target!r}")
    ok = True if target is None else bool(DIRECTIONS[direction](value, target))
    _record({"figure": name, "value": value, "unit": unit, "baseline": baseline,
             "direction": direction, "target": target, "ok": None if target is None else ok})
    if text is None:
        unit = f" {unit}" if unit else ""
        text = f"{name}: {value:.2f}{unit}" + ("" if target is None else f" (target {direction} {target:g}{unit})")
    return text, ok


def check(name: str, ok: bool, text: str | None = None) -> tuple[str, bool]:
    """Record a yes/no target (e.g. nothing lost); return (text, ok) for fanout.print_verdicts."""
    _record({"figure": name, "value": bool(ok), "unit": "", "baseline": "", "direction": "==", "target": True,
             "ok": bool(ok)})
    return (name if text is None else text), bool(ok)


def _record(row: dict) -> None:
    path = os.environ.get(ENVIRONMENT)
    if path:
        with open(path, "a", encoding="utf-8") as figures:
            figures.write(json.dumps(row) + "\n")


def read(path) -> list[dict]:
    """The figures one benchmark recorded, in order (none if it recorded nothing; a line cut short by a
    benchmark killed while writing it is left out)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as figures:
            for line in figures:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return rows
