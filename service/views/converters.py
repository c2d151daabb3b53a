"""URL converters: an id in a URL beyond the database's integer range finds no page (404), not a DataError."""
from werkzeug.routing import IntegerConverter

from service.normalize import MAX_ID


class DatabaseIdConverter(IntegerConverter):
    """<int:...> in every route: a whole number up to MAX_ID; a larger one matches no route, so 404."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
