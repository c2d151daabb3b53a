"""The charter form: each member's answers to the charter's sections (purpose, goals, who belongs...)."""
from forms.answers import form_class
from service.questions import CHARTER

__all__ = ["CharterForm"]

CharterForm = form_class("CharterForm", CHARTER)
