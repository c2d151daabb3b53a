"""Meeting feedback: usefulness (1 to 5), what worked, what to change, topics, would you recommend (0 to 10)."""
from forms.answers import form_class
from service.questions import FEEDBACK

__all__ = ["FeedbackForm"]

FeedbackForm = form_class("FeedbackForm", FEEDBACK)
