"""What a process keeps between requests (rendered pages and rows, counts, charts), bounded: the entry used least
recently goes first, and every look and keep takes one lock (gunicorn's threads share the store)."""
from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock


class Kept:
    def __init__(self, size: int):
        self._size = size
        self._entries: OrderedDict = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable):
        """What is kept under `key` (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def keep(self, key: Hashable, value) -> None:
        """Keep `value` under `key`, letting the least recently used entry go past the store's size."""
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
