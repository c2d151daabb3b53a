"""RQ entry points. Each job takes ids, builds its own app context and calls service/."""
