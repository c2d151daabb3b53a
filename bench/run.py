"""`make bench`: run every benchmark in bench/ (each module here with a `main()`), one after another.

Each runs in a fresh interpreter of its own, so one benchmark's environment,
workers and sinks cannot leak into the next. Arguments are passed on to each
(e.g. `bench/run.py --quick`). A benchmark prints its own figures and
verdict; this exits non-zero only if one of them crashed.
"""
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["fanout"]  # the benchmark runs first; the others follow in name order
HAS_MAIN = re.compile(r"^def main\(", re.MULTILINE)


def benchmarks() -> list[str]:
    names = sorted(path.stem for path in HERE.glob("*.py")
                   if path.stem != "run" and HAS_MAIN.search(path.read_text(encoding="utf-8")))
    return [name for name in FIRST if name in names] + [name for name in names if name not in FIRST]


def run(name: str, args: list[str]) -> int:
    code = (f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(HERE.parent)!r}]; "
            f"sys.argv = [{name!r}] + {args!r}; import {name}; sys.exit({name}.main())")
    return subprocess.call([sys.executable, "-c", code], cwd=HERE.parent)


def main() -> int:
    crashed = []
    for name in benchmarks():
        print(f"=== bench/{name}.py", flush=True)
        if run(name, sys.argv[1:]) != 0:
            crashed.append(name)
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
