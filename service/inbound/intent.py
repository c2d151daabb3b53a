"""What a member's reply means, from the everyday phrasing people use in English and Spanish.

Only the first sentence of the first line decides: people put the answer
first ("Yes, count me in! Can I bring a colleague?"), and the rest is their
note. A question ("is it online?") or an answer word after a negation ("I
can't say yes yet") is not an answer: the reply is kept as a comment and a
person reads it. Matching ignores case, accents, punctuation and emoji
(a thumbs up or down counts), so "SÍ!!", "si" and "sí 👍" are the same.
"""
import re
import unicodedata

# Longer phrases first: at one position the alternation takes the first that matches, so "no estoy seguro"
# (maybe) wins over "no" (no) and "no problem" (yes) over "no".
RSVP_PHRASES = {
    "maybe": [
        "not sure yet", "not sure", "i might come", "i might make it", "might make it", "maybe", "perhaps",
        "it depends", "depends on", "possibly", "tentatively", "tentative", "probably", "hopefully",
        "no estoy segura", "no estoy seguro", "todavia no se", "aun no se", "no se si", "tal vez", "talvez",
        "quizas", "quiza", "a lo mejor", "puede ser", "posiblemente", "probablemente", "si puedo",
        "depende",
    ],
    "no": [
        "cant make it", "cannot make it", "can not make it", "wont make it", "will not make it",
        "cant come", "cannot come", "wont be able", "will not be able", "not able to", "unable to",
        "cant attend", "cannot attend", "wont be there", "will not be there", "not this time", "ill miss",
        "ill have to miss", "have to skip", "not going", "not coming", "count me out", "i have to pass", "ill pass", "sorry no", "nope", "no",
        "no puedo", "no podre", "no voy a poder", "no ire", "no asistire", "no estare", "esta vez no",
        "no me es posible", "me es imposible", "no cuenten conmigo",
    ],
    "yes": [
        "no problem", "why not", "of course", "count me in", "ill be there", "i will be there", "ill come",
        "i will come", "im coming", "i am coming", "ill attend", "i will attend", "see you there", "see you then",
        "i can make it", "i can come", "i can attend", "definitely", "absolutely", "sure", "yes", "yeah", "yep",
        "yup", "attending",
        "sin problema", "alli estare", "ahi estare", "alla estare", "cuenten conmigo", "cuenta conmigo",
        "asistire", "ire", "voy", "claro que si", "claro", "por supuesto", "con gusto", "confirmo", "si",
    ],
}
APPROVE_PHRASES = [
    "i approve", "approved", "approve", "i agree", "agreed", "agree", "looks good", "sounds good", "lgtm",
    "yes", "ok", "okay",
    "lo apruebo", "apruebo", "aprobado", "aprobada", "estoy de acuerdo", "de acuerdo", "me parece bien",
    "todo bien", "si", "vale",
]
# Anything asking for a change makes the answer a change request, wherever it is in the reply.
CHANGE_WORDS = [
    "change", "changes", "changed", "should", "shouldnt", "instead", "suggest", "suggestion", "propose",
    "add", "remove", "replace", "rather", "disagree", "dont agree", "do not agree", "dont approve",
    "do not approve", "not approve", "not agree", "wrong", "missing", "edit", "fix", "revise",
    "cambio", "cambios", "cambiar", "cambiaria", "deberia", "deberian", "en lugar", "en vez", "propongo",
    "sugiero", "sugerencia", "agregar", "agreguen", "anadir", "anadan", "quitar", "quiten", "eliminar",
    "no apruebo", "no estoy de acuerdo", "falta", "corregir", "modificar",
]
UNSUBSCRIBE_PHRASES = {
    "unsubscribe", "unsubscribe me", "please unsubscribe me", "unsubscribe please", "unsubscribe me please", "stop", "remove me",
    "please remove me", "baja", "darme de baja", "dar de baja", "denme de baja", "de baja", "cancelar suscripcion",
    "quiero darme de baja", "por favor darme de baja",
}
# Under the facilitator's email: they cannot facilitate, or want to swap. "can't wait" is the opposite.
HAND_ON_PHRASES = [
    "swap", "switch", "trade", "hand it on", "pass it on", "cant", "cannot", "can not", "unable", "not able",
    "wont be able", "cant do it", "someone else",
    "cambiar", "cambio", "cambiemos", "intercambiar", "no puedo", "no podre", "no voy a poder", "otra persona",
    "alguien mas", "me es imposible",
]
NOT_HAND_ON = re.compile(r"\b(?:cant wait|no puedo esperar)\b")
NEGATIONS = re.compile(r"\b(?:not|no|never|cant|cannot|dont|wont|wouldnt|couldnt|isnt|nunca|tampoco|ni)\b")
# A line that only greets ("Hi Dana,", "Hola a todos:"): the answer is on the next line.
GREETING_LINE = re.compile(r"^(?:hi|hello|hey|dear|good (?:morning|afternoon|evening)|hola|buen dia|buenos dias|"
                           r"buenas tardes|buenas noches|buenas|estimad[ao]s?|querid[ao]s?)(?: \w+){0,3}$")
EMOJI_WORDS = {"\U0001F44D": " yes ", "\U0001F44E": " no "}  # thumbs up / down
# What mail clients put before the subject they answer or forward, in several languages ("Re:", "AW:", "RV:"...).
REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|rv|r|fw|fwd|rif|enc|tr|res)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)


def _phrase_pattern(phrases) -> re.Pattern:
    ordered = sorted(phrases, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(re.escape(p) for p in ordered) + r")\b")


def _tagged_pattern(by_tag: dict[str, list[str]]) -> tuple[re.Pattern, dict[str, str]]:
    """One pattern for every phrase, and which tag each phrase has."""
    tags = {phrase: tag for tag, phrases in by_tag.items() for phrase in phrases}
    return _phrase_pattern(tags), tags


RSVP_PATTERN, RSVP_TAGS = _tagged_pattern(RSVP_PHRASES)
HAND_ON_PATTERN = _phrase_pattern(HAND_ON_PHRASES)
APPROVE_PATTERN = _phrase_pattern(APPROVE_PHRASES)
CHANGE_PATTERN = _phrase_pattern(CHANGE_WORDS)


def normalized(text: str) -> str:
    """Lower case, no accents, apostrophes dropped ("can't" -> "cant"), other punctuation and emoji as spaces."""
    for emoji, word in EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"['\u2019\u02bc`]", "", text)
    return " ".join(re.sub(r"[^\w?¿]+", " ", text).replace("_", " ").split())


def first_line(text: str) -> str:
    """The first line with any letter or digit (or a thumbs up or down), but a quoted line or a mere greeting."""
    for line in (text or "").splitlines():
        if not line.strip() or line.lstrip().startswith(">") or _only_greets(line):
            continue
        if any(c.isalnum() for c in line) or any(c in line for c in EMOJI_WORDS):
            return line.strip()
    return ""


def _only_greets(line: str) -> bool:
    words = normalized(line)
    return bool(GREETING_LINE.match(words)) and RSVP_PATTERN.search(words) is None


def first_sentence(text: str) -> str:
    """The first sentence of the first line, with its closing '?' if it is a question."""
    line = first_line(text)
    match = re.match(r"\s*([^.!?;]*[.!?;]*)", line)
    return match.group(1).strip() if match else ""


def after_first_sentence(text: str) -> str:
    """Everything after the first sentence of the first line: the note that comes with an answer."""
    text = (text or "").strip()
    sentence = first_sentence(text)
    start = text.find(sentence) if sentence else -1
    return text[start + len(sentence):].strip() if start >= 0 else text


def _is_question(sentence: str) -> bool:
    return sentence.rstrip(" .!").endswith("?") or "¿" in sentence


def _negated_before(text: str, start: int) -> bool:
    return bool(NEGATIONS.search(text[:start]))


def rsvp_answer(text: str) -> str | None:
    """'yes', 'no' or 'maybe' when the reply opens with a clear answer; None for a question or anything else."""
    sentence = first_sentence(text)
    if not sentence or _is_question(sentence):
        return None
    words = normalized(sentence)
    match = RSVP_PATTERN.search(words)
    if match is None:
        return None
    answer = RSVP_TAGS[match.group(0)]
    if answer != "no" and _negated_before(words, match.start()):
        return None
    return answer


def charter_decision(text: str) -> tuple[str, str] | None:
    """('change', comment) when the reply asks for any change, ('approve', comment) when it opens with approval."""
    comment = (text or "").strip()
    if not comment:
        return None
    if CHANGE_PATTERN.search(normalized(comment)):
        return "change", comment
    sentence = first_sentence(comment)
    if _is_question(sentence):
        return None
    words = normalized(sentence)
    match = APPROVE_PATTERN.search(words)
    if match is None or _negated_before(words, match.start()):
        return None
    return "approve", comment


def wants_to_hand_on(text: str) -> bool:
    """Whether a reply to the facilitator's email opens by saying they cannot facilitate ("swap", "I can't",
    "cambiar", "no puedo"); a question is not that."""
    sentence = first_sentence(text)
    if not sentence or _is_question(sentence):
        return False
    words = normalized(sentence)
    return HAND_ON_PATTERN.search(words) is not None and NOT_HAND_ON.search(words) is None


def subject_without_prefixes(subject: str) -> str:
    """The subject without "Re:", "RE:", "Aw:", "RV:", "Fwd:" and the like in front."""
    return REPLY_PREFIX.sub("", subject or "").strip()


def wants_unsubscribe(subject: str, text: str) -> bool:
    """Whether "unsubscribe", "stop", "baja" (or a close variant) stands alone in the subject or first line."""
    return (normalized(subject_without_prefixes(subject)) in UNSUBSCRIBE_PHRASES
            or normalized(first_line(text)) in UNSUBSCRIBE_PHRASES)
