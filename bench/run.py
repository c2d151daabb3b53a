"""`make bench`: run every benchmark in bench/ (each module here with a `main()`), one after another,
then print one table of every figure against its target and write it to bench/results/.

Each runs in a fresh interpreter of its own, so one benchmark's environment,
workers and sinks cannot leak into the next. Arguments are passed on to each
(e.g. `bench/run.py --quick`), except this script's own:

    --only NAME[,NAME]   run only these benchmarks (e.g. --only stepped_back,markdown_guard)
    --compare A.md B.md  print two reports' tables side by side, and run nothing

A benchmark prints its own figures and verdicts, and records them through
bench/report.py into a file named in BENCH_FIGURES; at the end this prints them
as one Markdown table (bench/results.py) and writes it to
bench/results/<UTC time>.md and bench/results/latest.md (git-ignored); after
Ctrl-C, with what ran until then. It exits non-zero only if a benchmark
crashed or the run was interrupted: a FAIL is a measurement.
BENCH_DIR runs the benchmarks of another folder (the tests' fake ones); its
results/ then holds the reports.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
import results  # noqa: E402

FIRST = ["fanout"]  # the benchmark runs first; the others follow in name order
HAS_MAIN = re.compile(r"^def main\(", re.MULTILINE)


def benchmarks(folder: Path) -> list[str]:
    names = sorted(path.stem for path in folder.glob("*.py")
                   if path.stem != "run" and HAS_MAIN.search(path.read_text(encoding="utf-8")))
    return [name for name in FIRST if name in names] + [name for name in names if name not in FIRST]


def run(folder: Path, name: str, args: list[str], figures: Path) -> int:
    code = (f"import sys; sys.path[:0] = [{str(folder)!r}, {str(HERE)!r}, {str(HERE.parent)!r}]; "
            f"sys.argv = [{name!r}] + {args!r}; import {name}; sys.exit({name}.main())")
    environment = {**os.environ, report.ENVIRONMENT: str(figures)}
    with subprocess.Popen([sys.executable, "-c", code], cwd=HERE.parent, env=environment) as process:
        try:
            return process.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the benchmark too: let it stop its workers and sinks first
            process.wait()
            raise


def code_facts(args: list[str]) -> dict[str, str]:
    """Which code ran, with which arguments (read at the start: a commit made during the run is not it)."""
    def git(*command):
        done = subprocess.run(["git", *command], cwd=HERE, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " with uncommitted changes"
    return {"commit": commit, "arguments": " ".join(args) or "none"}


def machine_facts(started: float, started_load: float) -> dict[str, str]:
    """How busy the machine was: figures measured while others work are "loaded" figures."""
    return {"machine": f"{os.cpu_count()} cores, load average {started_load:.2f} at the start, "
                       f"{os.getloadavg()[0]:.2f} at the end",
            "took": f"{(time.monotonic() - started) / 60:.1f} min"}


def write(folder: Path, text: str, when: datetime) -> Path:
    """bench/results/<UTC time>.md, and latest.md a copy of it."""
    directory = folder / "results"
    directory.mkdir(exist_ok=True)
    path = directory / f"{when:%Y-%m-%dT%H%M%SZ}.md"
    path.write_text(text, encoding="utf-8")
    shutil.copyfile(path, directory / "latest.md")
    return path


def compare(first: Path, second: Path) -> int:
    print(results.side_by_side(first.read_text(encoding="utf-8"), second.read_text(encoding="utf-8"),
                               first.name, second.name))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=False)
    parser.add_argument("--only", help="comma-separated benchmark names")
    parser.add_argument("--compare", nargs=2, type=Path, metavar=("A.md", "B.md"))
    options, args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    if options.compare:
        return compare(*options.compare)
    folder = Path(os.environ.get("BENCH_DIR", HERE)).resolve()
    names = benchmarks(folder)
    if options.only:
        wanted = options.only.split(",")
        unknown = sorted(set(wanted) - set(names))
        if unknown:
            parser.error(f"no benchmark named {', '.join(unknown)} (there are: {', '.join(names)})")
        names = [name for name in names if name in wanted]
    when, started, started_load = datetime.now(timezone.utc), time.monotonic(), os.getloadavg()[0]
    facts = code_facts(args)
    rows, crashed = [], []
    with tempfile.TemporaryDirectory(prefix="cop-bench-figures-") as scratch:
        for name in names:
            print(f"=== {folder.name}/{name}.py", flush=True)
            figures = Path(scratch) / f"{name}.jsonl"
            try:
                code = run(folder, name, args, figures)
            except KeyboardInterrupt:  # the table of what ran, this one's figures so far, and no more benchmarks
                rows += results.benchmark_rows(name, report.read(figures), 0, interrupted=True)
                crashed.append(f"{name} (interrupted)")
                break
            if code:
                crashed.append(name)
            rows += results.benchmark_rows(name, report.read(figures), code)
    text = results.document(rows, when, {**facts, **machine_facts(started, started_load)})
    path = write(folder, text, when)
    print(f"\n{results.table(rows)}\n\n{results.summary(rows)}\nwritten to {path}", flush=True)
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
