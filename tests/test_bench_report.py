"""`make bench`'s one report: bench/run.py over fake benchmarks ends with one table of every figure against its
target (PASS, FAIL, CRASHED), writes it as Markdown under results/, and prints two reports side by side."""
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from service.config import PROJECT_ROOT

RUN = PROJECT_ROOT / "bench" / "run.py"

FAKES = {
    # Figures from its environment, so that two runs can differ; the arguments it was given must be `--quick` alone.
    "fast.py": """
        import os, sys
        import fanout_like, report

        def main(argv=None):
            if sys.argv[1:] != ["--quick"]:
                raise SystemExit(f"arguments not passed on as given: {sys.argv[1:]}")
            fanout_like.print_verdicts([
                report.figure("outbox / smtplib msg/s", float(os.environ["FAKE_RATIO"]), ">=", 0.5,
                              baseline="plain smtplib, 2 processes"),
                report.figure("p95 | login page's", 4.25, "<=", 3, baseline="login page, 12.0 ms"),
                report.figure("peak RSS growth", 1.5, "<=", 5.0, unit="MB", baseline="61.0 MB at 200"),
                report.figure("CPU per message / smtplib's", 7.125),
                report.check("every row sent", True),
            ])
            return 0
    """,
    # Records one figure, then crashes.
    "crashes.py": """
        import report

        def main(argv=None):
            report.figure("export / baseline", 1.25, "<=", 4, baseline="SELECT + JSON, 0.8 s")
            raise RuntimeError("the database went away")
    """,
    # A benchmark that has not adopted bench/report.py yet.
    "silent.py": """
        def main(argv=None):
            print("figures printed, none recorded")
            return 0
    """,
    # Helpers without a main() are not run.
    "fanout_like.py": """
        def print_verdicts(verdicts):
            for text, ok in verdicts:
                print(("PASS  " if ok else "FAIL  ") + text)
    """,
}


@pytest.fixture
def bench_dir(tmp_path):
    for name, source in FAKES.items():
        (tmp_path / name).write_text(textwrap.dedent(source))
    return tmp_path


def run_bench(bench_dir, *args, ratio="0.8"):
    environment = {**os.environ, "BENCH_DIR": str(bench_dir), "FAKE_RATIO": ratio}
    return subprocess.run([sys.executable, str(RUN), *args], env=environment, capture_output=True, text=True,
                          timeout=120)


def table_rows(text):
    """The table's rows, as lists of cells, header and separator left out."""
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]


def test_one_table_of_every_figure_with_its_target_pass_fail_and_crash(bench_dir):
    done = run_bench(bench_dir, "--quick")

    assert done.returncode == 1, done.stderr  # a crash is the only thing that fails `make bench`
    assert "PASS  outbox / smtplib msg/s: 0.80 (target >= 0.5)" in done.stdout  # each bench still prints its own
    assert "RuntimeError: the database went away" in done.stderr
    printed = done.stdout.split(f"=== {bench_dir.name}/silent.py", 1)[1]
    rows = table_rows(printed)
    assert rows == [
        ["crashes", "export / baseline", "1.25", "SELECT + JSON, 0.8 s", "<= 4", "PASS"],
        ["crashes", "exited with status 1", "—", "—", "—", "CRASHED"],
        ["fast", "outbox / smtplib msg/s", "0.80", "plain smtplib, 2 processes", ">= 0.5", "PASS"],
        ["fast", "p95 \\| login page's", "4.25", "login page, 12.0 ms", "<= 3", "FAIL"],
        ["fast", "peak RSS growth", "1.50 MB", "61.0 MB at 200", "<= 5 MB", "PASS"],
        ["fast", "CPU per message / smtplib's", "7.12", "—", "—", "—"],
        ["fast", "every row sent", "yes", "—", "yes", "PASS"],
        ["silent", "recorded no figure (bench/report.py)", "—", "—", "—", "NO FIGURES"],
    ]
    assert "verdict: FAIL (4 PASS, 1 FAIL, 1 CRASHED, 1 NO FIGURES; 1 without a target)" in printed
    assert "crashed: crashes" in printed

    reports = sorted((bench_dir / "results").glob("20*.md"))
    assert len(reports) == 1
    written = reports[0].read_text()
    assert f"written to {reports[0]}" in printed
    assert (bench_dir / "results" / "latest.md").read_text() == written
    assert table_rows(written) == rows
    assert "- arguments: --quick" in written
    assert "verdict: FAIL" in written


def test_only_runs_the_named_benchmarks(bench_dir):
    done = run_bench(bench_dir, "--only", "silent")

    assert done.returncode == 0, done.stderr
    assert "fast.py" not in done.stdout
    assert table_rows(done.stdout) == [["silent", "recorded no figure (bench/report.py)", "—", "—", "—",
                                        "NO FIGURES"]]
    assert "no benchmark named nosuch" in run_bench(bench_dir, "--only", "nosuch").stderr


def test_two_reports_side_by_side(bench_dir):
    results = bench_dir / "results"
    run_bench(bench_dir, "--quick", ratio="0.8")
    (results / "latest.md").rename(results / "before.md")
    run_bench(bench_dir, "--quick", ratio="0.4")

    done = run_bench(bench_dir, "--compare", str(results / "before.md"), str(results / "latest.md"))

    assert done.returncode == 0, done.stderr
    header = [cell.strip() for cell in done.stdout.splitlines()[0].strip("|").split("|")]
    assert header[:3] + header[-1:] == ["Benchmark", "Figure", "Target", "B / A"]
    assert re.fullmatch(r"A: before\.md \(20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", header[3])
    assert re.fullmatch(r"B: latest\.md \(20\d\d-\d\d-\d\d \d\d:\d\d:\d\d UTC\)", header[4])
    rows = table_rows(done.stdout)
    assert ["fast", "outbox / smtplib msg/s", ">= 0.5", "0.80 PASS", "0.40 FAIL", "0.50"] in rows
    assert ["fast", "p95 \\| login page's", "<= 3", "4.25 FAIL", "4.25 FAIL", "1.00"] in rows
    assert ["fast", "CPU per message / smtplib's", "—", "7.12", "7.12", "1.00"] in rows
    assert ["crashes", "exited with status 1", "—", "— CRASHED", "— CRASHED", "—"] in rows


def test_ctrl_c_ends_with_the_table_of_what_ran(bench_dir):
    """Ctrl-C reaches the benchmark, which stops its own workers; the table then shows its figures so far."""
    (bench_dir / "a_slow.py").write_text(textwrap.dedent("""
        import time
        import report

        def main(argv=None):
            report.figure("before the wait", 1.0, "<=", 2)
            try:
                print("waiting", flush=True)
                time.sleep(60)
            except KeyboardInterrupt:
                print("stopped its workers", flush=True)
                return 130
    """))
    environment = {**os.environ, "BENCH_DIR": str(bench_dir), "FAKE_RATIO": "0.8"}
    with subprocess.Popen([sys.executable, str(RUN), "--quick"], env=environment, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True) as process:
        assert process.stdout.readline().startswith("=== ")
        assert process.stdout.readline() == "waiting\n"
        os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: to the whole process group
        printed, _ = process.communicate(timeout=60)

    assert process.returncode == 1
    assert "stopped its workers" in printed, printed
    assert "crashes.py" not in printed  # no benchmark starts after the interruption
    expected = [["a_slow", "before the wait", "1.00", "—", "<= 2", "PASS"],
                ["a_slow", "interrupted (Ctrl-C)", "—", "—", "—", "INTERRUPTED"]]
    assert table_rows(printed) == expected
    assert table_rows((bench_dir / "results" / "latest.md").read_text()) == expected
    assert "verdict: FAIL (1 PASS, 0 FAIL, 1 INTERRUPTED; 0 without a target)" in printed
