"""What gunicorn and `flask` load: `gunicorn wsgi:app`."""
from service import create_app

app = create_app()
