"""The table `make bench` ends with, as Markdown, and two such reports side by side.

One row per recorded figure (bench/report.py): benchmark, figure, what was
measured, its baseline, the target with its direction, and PASS or FAIL (— for
a figure without a target). A benchmark that exited non-zero adds a CRASHED
row, one stopped by Ctrl-C an INTERRUPTED row, and one that exited 0 without
recording anything a NO FIGURES row. The table is aligned Markdown, so the
same text is printed and written under bench/results/; `side_by_side` reads
two of those files back.
"""
import math
import re
from datetime import datetime

COLUMNS = ("Benchmark", "Figure", "Measured", "Baseline", "Target", "Result")
UNESCAPED_BAR = re.compile(r"(?<!\\)\|")
LEADING_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def number(value) -> str:
    """A measured figure as the table shows it: two decimals, fewer from 10 up, two significant digits below 0.1."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1 or value == 0:
        return f"{value:.2f}"
    return f"{value:.2g}"


def with_unit(text: str, unit: str) -> str:
    return text + (f" {unit}" if unit else "")


def benchmark_rows(benchmark: str, figures: list[dict], exit_code: int,
                   interrupted: bool = False) -> list[tuple[str, ...]]:
    """The table's rows for one benchmark: its figures, then a CRASHED, INTERRUPTED or NO FIGURES row if that is
    what happened."""
    rows = []
    for row in figures:
        if row["target"] is None:
            target = "—"
        elif isinstance(row["target"], bool):
            target = number(row["target"])
        else:  # as a benchmark's constant is written (0.5, 1.15, 3), a computed one to three digits
            target = f"{row['direction']} " + with_unit(
                f"{row['target']:.3g}" if abs(row["target"]) < 1000 else f"{row['target']:.0f}", row["unit"])
        result = "—" if row["ok"] is None else ("PASS" if row["ok"] else "FAIL")
        rows.append((benchmark, row["figure"], with_unit(number(row["value"]), row["unit"]),
                     row["baseline"] or "—", target, result))
    if interrupted:
        rows.append((benchmark, "interrupted (Ctrl-C)", "—", "—", "—", "INTERRUPTED"))
    elif exit_code:
        how = f"killed by signal {-exit_code}" if exit_code < 0 else f"exited with status {exit_code}"
        rows.append((benchmark, how, "—", "—", "—", "CRASHED"))
    elif not figures:
        rows.append((benchmark, "recorded no figure (bench/report.py)", "—", "—", "—", "NO FIGURES"))
    return rows


def table(rows: list[tuple[str, ...]], columns: tuple[str, ...] = COLUMNS) -> str:
    """An aligned Markdown table: readable in a terminal, rendered anywhere Markdown is."""
    cells = [[cell.replace("|", "\\|") for cell in row] for row in [columns, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def summary(rows: list[tuple[str, ...]]) -> str:
    results = [row[-1] for row in rows]
    counts = [f"{results.count(word)} {word}" for word in ("PASS", "FAIL", "CRASHED", "INTERRUPTED", "NO FIGURES")
              if results.count(word) or word in ("PASS", "FAIL")]
    verdict = "PASS" if all(result in ("PASS", "—") for result in results) else "FAIL"
    return f"verdict: {verdict} ({', '.join(counts)}; {results.count('—')} without a target)"


def document(rows: list[tuple[str, ...]], started: datetime, facts: dict[str, str]) -> str:
    """The Markdown file: when, on what, the table, the verdict."""
    lines = [f"# Benchmarks, {started:%Y-%m-%d %H:%M:%S} UTC", ""]
    lines += [f"- {name}: {value}" for name, value in facts.items()]
    return "\n".join(lines + ["", table(rows), "", summary(rows), ""])


def parse(text: str) -> list[dict[str, str]]:
    """The rows of a report's table, as {column: cell}."""
    rows, header = [], None
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells = [cell.strip().replace("\\|", "|") for cell in UNESCAPED_BAR.split(line.strip())[1:-1]]
        if header is None:
            header = cells
        elif not all(set(cell) <= {"-", ":"} for cell in cells):
            rows.append(dict(zip(header, cells)))
    return rows


def change(before: str, after: str) -> str:
    """after / before when both cells start with a number; a ratio of ratios, so a slower machine shows too."""
    first, second = LEADING_NUMBER.match(before), LEADING_NUMBER.match(after)
    if not first or not second or float(first.group()) == 0:
        return "—"
    return f"{float(second.group()) / float(first.group()):.2f}"


def side_by_side(first: str, second: str, first_label: str, second_label: str) -> str:
    """Two reports' figures in one table, matched by benchmark and figure, with the second's over the first's."""
    a = {(row["Benchmark"], row["Figure"]): row for row in parse(first)}
    b = {(row["Benchmark"], row["Figure"]): row for row in parse(second)}
    rows = []
    for key in list(a) + [key for key in b if key not in a]:
        old, new = a.get(key), b.get(key)
        rows.append((*key, (new or old)["Target"], cell(old), cell(new),
                     change(old["Measured"], new["Measured"]) if old and new else "—"))
    return table(rows, ("Benchmark", "Figure", "Target", f"A: {first_label}{when(first)}",
                        f"B: {second_label}{when(second)}", "B / A"))


def cell(row: dict[str, str] | None) -> str:
    if row is None:
        return "absent"
    return row["Measured"] if row["Result"] == "—" else f"{row['Measured']} {row['Result']}"


def when(text: str) -> str:
    """A report's time, from its heading, to follow its file's name ("" if it has none)."""
    heading = re.search(r"^# Benchmarks, (.+)$", text, re.MULTILINE)
    return f" ({heading.group(1)})" if heading else ""
