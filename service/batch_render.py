"""Rendering a batch of outbox rows: copies that differ only in the member's name and links share one rendering.

An announcement to 10,000 members is one email but for the greeting's name
and the signed footer links, yet rendering its three templates and inlining
its CSS for every member was most of a worker's time per message. So a batch
renders each (kind, language, community, context) once, with a placeholder in
place of every personal value, and fills each member's values into that.

That is right only while the templates print those values as they are. Any
of these checks failing sends the row the ordinary way (email_render.render):
- the kind has no extras (they compute per-member content: digests, meetings);
- the member's values are plain: they read the same escaped for HTML or not,
  whitespace folded or not, so filling them in equals rendering them;
- the shared rendering is made twice, with placeholders that share no
  character, not even their length; filling the first with the second's
  placeholders must give exactly the second. A template that transforms a
  value (upper-cases, slices, truncates it) fails this, and one that reads
  anything else of the member fails to render at all: the member it sees has
  only a name and a language.
The render-twice check cannot see a template that branches on a personal
value (`{% if member.name|length > 40 %}`): both placeholders take the same
branch, a member's real name may not. So `check_shared_templates` refuses, at
start-up, a shared kind's template that does anything with a personal value
but print it.
"""
import json
import re
from dataclasses import dataclass
from string import ascii_lowercase

from jinja2 import Environment, nodes

from service import members
from service.email_render import RenderedEmail, assemble, member_links, render, render_parts, template_context
from service.mailer import KINDS, EmailKind, kind_named
from service.models import Community, Member, OutboundEmail

# (archive_url only in a community's email: email_render.member_links)
PERSONAL_LINKS = ("unsubscribe_url", "preferences_url", "unsubscribe_mailto", "archive_url")
# The values a shared rendering holds placeholders for, as templates name them: (variable, attribute).
PERSONAL_VALUES = frozenset({("member", "name"), *(("links", field) for field in PERSONAL_LINKS)})
_GETTEXT = frozenset({"gettext", "_", "pgettext"})  # {% trans name=member.name %} passes the value through
_MARKUP = frozenset("&<>\"'")


@dataclass(frozen=True)
class _PlaceholderMember:
    name: str
    language: str


class SharedRendering:
    """Rendered parts with a placeholder for each personal value, and the filling of them."""

    def __init__(self, parts: tuple[str, ...], placeholders: dict[str, str]):
        self.parts = parts
        field_of = {placeholder: field for field, placeholder in placeholders.items()}
        pattern = re.compile("(" + "|".join(map(re.escape, placeholders.values())) + ")")
        # Each part split once at its placeholders: literal, field, literal, field, ..., literal.
        self._pieces = [[field_of[piece] if index % 2 else piece for index, piece in enumerate(pattern.split(part))]
                        for part in parts]

    def fill(self, values: dict[str, str]) -> tuple[str, ...]:
        """The parts with each placeholder replaced by `values[field]` (values are never read for placeholders)."""
        return tuple("".join([values[piece] if index % 2 else piece for index, piece in enumerate(pieces)])
                     for pieces in self._pieces)


def _placeholders(fields, letters: str, length: int) -> dict[str, str]:
    """Placeholder per field, drawn from `letters` only; each field's differs from the others'."""
    return {field: letters[index % len(letters)] * 2 + letters[(index + 1) % len(letters)] * (length - 2)
            for index, field in enumerate(fields)}


def share(render_with, fields) -> SharedRendering | None:
    """`render_with(placeholders)` as a SharedRendering, or None where filling it in would not equal rendering.

    Two sets of placeholders from disjoint letters and of different lengths;
    the first set's rendering, filled with the second set, must be the
    second set's rendering to the byte.
    """
    first = _placeholders(fields, ascii_lowercase[:13], 24)
    second = _placeholders(fields, ascii_lowercase[13:], 31)
    try:
        shared = SharedRendering(render_with(first), first)
        expected = render_with(second)
    except Exception:  # a template reading more of the member than the placeholder has: render each row
        return None
    return shared if shared.fill(second) == expected else None


def is_plain(value) -> bool:
    """A value whose rendering is the value itself: no markup characters, no whitespace to fold, printable."""
    return (isinstance(value, str) and value != "" and value.isprintable() and " ".join(value.split()) == value
            and _MARKUP.isdisjoint(value))


def is_shared(kind: EmailKind) -> bool:
    """Whether copies of this kind may share a rendering: no per-member extras, not a test copy."""
    return not kind.extras and not kind.staff_copy


class PersonalValueUseError(RuntimeError):
    """A shared kind's template does more with a member's name or links than print them."""


def check_shared_templates(env: Environment) -> None:
    """Refuse a template of a shared kind (or one it extends or includes) that uses a personal value other than
    by printing it: `{{ member.name }}` and `{% trans name=member.name %}` pass, but a test, filter, loop,
    comparison, slice, `{% set %}` or macro argument does not. Raises PersonalValueUseError naming each use."""
    pending = sorted({f"{kind.templates}.{suffix}" for kind in KINDS.values() if is_shared(kind)
                      for suffix in ("subject.txt", "txt", "html")})
    checked, problems = set(), []
    while pending:
        name = pending.pop()
        if name in checked:
            continue
        checked.add(name)
        tree = env.parse(env.loader.get_source(env, name)[0], name)
        pending += [node.template.value for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import,
                                                                    nodes.FromImport))
                    if isinstance(node.template, nodes.Const)]
        problems += [f"{name}, line {node.lineno}: {_describe(node)}" for node in _misused(tree)]
    if problems:
        raise PersonalValueUseError(
            "these email templates are shared between members (service.batch_render) but do more with a "
            "member's name or links than print them; print the value as it is, or give the kind extras so each "
            "copy is rendered alone:\n  " + "\n  ".join(problems))


def _misused(node: nodes.Node, printed: bool = False):
    """The uses of personal values under `node` that are not printed as they are."""
    if isinstance(node, (nodes.Getattr, nodes.Getitem)) and isinstance(node.node, nodes.Name) \
            and node.node.name in ("member", "links"):
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", None)
        if (node.node.name, key) in PERSONAL_VALUES and not printed:
            yield node
        return
    if isinstance(node, nodes.Name) and node.name in ("member", "links") and node.ctx == "load":
        yield node  # handed on whole: whatever receives it could branch on the name or links
        return
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Name) and node.node.name in _GETTEXT:
        for argument in node.args:
            yield from _misused(argument)
        for keyword in node.kwargs:  # gettext's %(name)s: printed, escaped as {{ }} would
            yield from _misused(keyword.value, printed=True)
        return
    for child in node.iter_child_nodes():  # an expression of {{ }} is printed as it is
        yield from _misused(child, printed=isinstance(node, nodes.Output))


def _describe(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return f"`{node.name}` used whole"
    key = node.attr if isinstance(node, nodes.Getattr) else node.arg.value
    return f"`{node.node.name}.{key}` used other than printed"


class BatchRenderer:
    """Renders the rows of one delivery batch, sharing renderings between copies of the same email.

    A rendering is shared from an email's second copy on: an email that
    occurs once in the batch (a welcome) costs one rendering, not the
    shared rendering's two.
    """

    def __init__(self):
        self._shared: dict[tuple, SharedRendering | None] = {}
        self._seen: set[tuple] = set()
        self._context_keys: dict[int, tuple[dict, str]] = {}
        self.filled = 0  # rows filled into a shared rendering (the rest were rendered alone)
        self._known: dict[int, dict[int, tuple[str, str]]] = {}  # per community: names and languages read
        self._asked: dict[int, set[int]] = {}  # per community: the members whose names were read

    def learn_names(self, rows) -> None:
        """Read, one query per community, the names and languages its memberships give the members of
        `rows` ((row, member, community) as claims.load gives them), for their rendering."""
        wanted: dict[int, tuple[Community, set[int]]] = {}
        for _row, member, community in rows:
            if member is not None and community is not None:
                wanted.setdefault(community.id, (community, set()))[1].add(member.id)
        for community_id, (community, member_ids) in wanted.items():
            new = member_ids - self._asked.setdefault(community_id, set())
            if new:
                self._known.setdefault(community_id, {}).update(members.known_as_in(community, sorted(new)))
                self._asked[community_id] |= new

    def _known_in(self, member: Member, community: Community | None):
        """The member as the community knows them: from learn_names, or a query of its own if not learned."""
        if community is not None and member.id in self._asked.get(community.id, ()):
            return members.known_in(member, community, self._known[community.id])
        return members.known_in(member, community)

    def render(self, row: OutboundEmail, member: Member, community: Community | None) -> RenderedEmail:
        kind = kind_named(row.kind)
        member = self._known_in(member, community)
        if not is_shared(kind):  # per-member content or a test copy: rendered alone
            return render(row, member, community)
        links = member_links(member, community)
        fields = tuple(field for field in PERSONAL_LINKS if field in links)
        values = {"name": member.name, **{field: links[field] for field in fields}}
        if not all(map(is_plain, values.values())):
            return render(row, member, community)
        key = (kind.name, member.language, community.id if community else None, self._context_key(row.context))
        if key not in self._shared:
            if key not in self._seen:
                self._seen.add(key)
                return render(row, member, community)
            self._shared[key] = self._share(kind, row, member.language, community, fields)
        shared = self._shared[key]
        if shared is None:
            return render(row, member, community)
        self.filled += 1
        return assemble(kind, row, member, community, links, shared.fill(values))

    def _context_key(self, context: dict) -> str:
        """The context as canonical JSON, worked out once per context object (delivery's rows share them).

        The memo keeps each context it has seen alive, so no other dict can
        take its id(); contexts are never changed while a batch renders.
        """
        seen = self._context_keys.get(id(context))
        if seen is None or seen[0] is not context:
            seen = self._context_keys[id(context)] = (context, json.dumps(context, sort_keys=True))
        return seen[1]

    @staticmethod
    def _share(kind, row: OutboundEmail, language: str, community: Community | None,
               fields: tuple[str, ...]) -> SharedRendering | None:
        def render_with(placeholders: dict[str, str]) -> tuple[str, str, str]:
            member = _PlaceholderMember(name=placeholders["name"], language=language)
            links = {field: placeholders[field] for field in fields}
            return render_parts(kind, language, template_context(row, member, community, links))
        return share(render_with, ("name", *fields))
