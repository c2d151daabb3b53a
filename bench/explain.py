"""What a benchmark's `--explain` prints: each page's SQL statements with their times, from one rendering
through the Flask test client in this process (after a warm-up), and with `profile` the functions that took the
most of it (cProfile, cumulative)."""
import time


def explain_pages(app, client, paths, width: int = 160, profile: bool = False) -> None:
    """Each of `paths` fetched by `client` (logged in as the caller wants), then fetched again, timed."""
    import cProfile
    import pstats
    from sqlalchemy import event
    from service.extensions import db
    with app.app_context():
        engine = db.engine
    for path in paths:
        client.get(path)
        statements = []

        def before(conn, cursor, statement, parameters, context, executemany):
            context._bench_started = time.perf_counter()

        def after(conn, cursor, statement, parameters, context, executemany):
            statements.append(((time.perf_counter() - context._bench_started) * 1000, " ".join(statement.split())))

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)
        profiler = cProfile.Profile() if profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        client.get(path)
        if profiler:
            profiler.disable()
        total = (time.perf_counter() - started) * 1000
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)
        print(f"\n{path}: {total:.1f} ms in the test client, {len(statements)} statements, "
              f"{sum(ms for ms, _s in statements):.1f} ms in SQL:")
        for ms, statement in statements:
            print(f"  {ms:7.2f} ms  {statement[:width]}")
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
