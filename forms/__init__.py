"""WTForms classes, one module per area. Every form carries a CSRF token (Flask-WTF)."""
