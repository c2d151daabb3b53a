"""Serving an app on localhost from a background thread, so a real browser can use it."""
import contextlib
import threading
from collections.abc import Iterator

from flask import Flask
from werkzeug.serving import make_server


@contextlib.contextmanager
def live_server(app: Flask, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL of `app` served on a free port; stop serving on exit."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
