"""`make bench`: run every benchmark in bench/ (each module here with a `main()`), one after another.

Arguments are passed on to each benchmark (e.g. `bench/run.py --quick`). A
benchmark prints its own figures and verdict; this exits non-zero only if
one of them crashed.
"""
import importlib
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ["fanout"]  # the benchmark runs first; the others follow in name order


def benchmarks() -> list[str]:
    names = sorted(path.stem for path in HERE.glob("*.py") if path.stem not in ("run", "__init__"))
    return [name for name in FIRST if name in names] + [name for name in names if name not in FIRST]


def main() -> int:
    sys.path.insert(0, str(HERE))
    crashed = []
    for name in benchmarks():
        module = importlib.import_module(name)
        if not callable(getattr(module, "main", None)):
            continue
        print(f"=== bench/{name}.py", flush=True)
        try:
            module.main(sys.argv[1:])
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                crashed.append(name)
        except Exception:
            traceback.print_exc()
            crashed.append(name)
    if crashed:
        print(f"crashed: {', '.join(crashed)}")
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
