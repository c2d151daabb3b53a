"""Files members attach to posts: kept up to the community's limit, linked (never embedded) from every copy.

A part counts as an attachment when it has a file name, or is an image
(pictures pasted into the message arrive as inline parts with no name).
The message is posted only when every attachment may be kept: one over the
community's `attachment_limit_kb`, or a program (by its name, its declared
type or its first bytes), stops the whole post and the member is told which
file and why; the raw message stays in the inbox, so nothing is lost.

Copies and the archive link each file by a signed link that names the post
and the file (one link serves every copy); the download always saves the
file rather than opening it in our pages, as a type that cannot run there.
"""
import mimetypes
import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from service.errors import DomainError
from service.extensions import db
from service.links import public_url
from service.models import Community, Member, Post, PostAttachment
from service.tokens import TokenError, make_token, read_token

TOKEN_PURPOSE = "post_attachment"
DEFAULT_LIMIT_KB = 2048
MAX_LIMIT_KB = 10 * 1024  # the coordinator's setting goes up to this (received mail is at most 10 MB whole)
MAX_FILES = 20
MAX_FILENAME = 200
EXECUTABLE_EXTENSIONS = frozenset(
    "exe com bat cmd scr pif cpl msi msp mst dll sys vb vbs vbe js jse jar wsf wsh wsc ws ps1 ps2 psm1 psc1 hta "
    "lnk inf reg gadget application msc sh bash csh ksh run bin app apk dmg pkg deb rpm iso img vhd vhdx "
    "docm xlsm pptm dotm xltm potm ppam xlam sldm scf url".split())
EXECUTABLE_TYPES = frozenset({
    "application/x-msdownload", "application/x-dosexec", "application/x-msdos-program", "application/x-executable",
    "application/x-sh", "application/x-csh", "application/x-shellscript", "application/java-archive",
    "application/x-java-archive", "application/x-msi", "application/x-ms-installer", "application/hta",
    "application/vnd.microsoft.portable-executable", "application/x-apple-diskimage", "application/javascript",
    "text/javascript", "application/x-bat", "application/vnd.android.package-archive"})
# How programs begin: ELF, Mach-O (fat, 64- and 32-bit) and a script's "#!/" line; Windows programs are found by
# their PE header (starting "MZ" alone would refuse a CSV whose first cell is Mozambique's code).
EXECUTABLE_MAGIC = (b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"\xce\xfa\xed\xfe", b"#!/")
# What a download is served as: these types as they are, everything else as bytes to save.
SAFE_TYPES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/heic", "application/pdf", "text/plain", "text/csv",
    "application/zip", "application/msword", "application/vnd.ms-excel", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet",
    "audio/mpeg", "audio/mp4", "video/mp4"})


@dataclass
class File:
    """An attachment as read from the message, before it is kept."""
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class Refused(Exception):
    """The post cannot be kept because of this file: `why` is "too_large", "executable" or "too_many"."""

    def __init__(self, why: str, filename: str, size: int = 0):
        super().__init__(f"{why}: {filename}")
        self.why, self.filename, self.size = why, filename, size


def files_in(message) -> list[File]:
    """The message's attachments and inline images, in order (none when it could not be parsed)."""
    found = []
    for part in _leaves(message, current_app.config["INBOUND_MAX_DEPTH"]):
        content_type, name = part.get_content_type().lower(), part.get_filename()
        if not name and not content_type.startswith("image/"):
            continue  # the message's text itself (a nameless part that is not a picture)
        data = part.get_payload(decode=True) or b""
        found.append(File(safe_filename(name, content_type, len(found) + 1), content_type, data))
    return found


def _leaves(message, max_depth: int):
    """The parts that are not containers, in order, not below max_depth (a forwarded message is not opened)."""
    stack = [(message, 0)] if message is not None else []
    while stack:
        part, depth = stack.pop()
        if not part.is_multipart():
            yield part
        elif part.get_content_type() != "message/rfc822" and depth < max_depth:
            children = part.get_payload()
            if isinstance(children, list):
                stack.extend((child, depth + 1) for child in reversed(children))


def check(community: Community, files: list[File]) -> None:
    """Refused for the first file the community may not keep: too many, a program, or over its limit."""
    if len(files) > MAX_FILES:
        raise Refused("too_many", files[MAX_FILES].filename)
    limit = community.attachment_limit_kb * 1024
    for file in files:
        if is_executable(file):
            raise Refused("executable", file.filename, file.size)
        if file.size > limit:
            raise Refused("too_large", file.filename, file.size)


def keep(post: Post, files: list[File]) -> None:
    """Store the files with the post (the caller flushes and commits)."""
    for file in files:
        post.attachments.append(PostAttachment(filename=file.filename, content_type=file.content_type[:100],
                                               size=file.size, data=file.data))


def is_executable(file: File) -> bool:
    extension = file.filename.rpartition(".")[2].lower() if "." in file.filename else ""
    return (extension in EXECUTABLE_EXTENSIONS or file.content_type in EXECUTABLE_TYPES
            or file.data.startswith(EXECUTABLE_MAGIC) or _windows_program(file.data))


def _windows_program(data: bytes) -> bool:
    """An MZ header whose pointer at 0x3C leads to the "PE" signature (every Windows program and library)."""
    if not data.startswith(b"MZ") or len(data) < 0x40:
        return False
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return data[offset:offset + 4] == b"PE\0\0"


def safe_filename(name: str | None, content_type: str, number: int) -> str:
    """A name fit for a header and a file system: no folders, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.sub(r"[\x00-\x1f\x7f\"\\/:*?<>|]+", "_", name.replace("\\", "/").rpartition("/")[2]).strip(" .")
    if not name:
        extension = mimetypes.guess_extension(content_type) or ".bin"
        name = f"image-{number}{extension}" if content_type.startswith("image/") else f"file-{number}{extension}"
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        name = (stem[:MAX_FILENAME - len(extension) - 1] + dot + extension) if dot and len(extension) < 10 \
            else name[:MAX_FILENAME]
    return name


def served_type(attachment: PostAttachment) -> str:
    """The Content-Type a download is sent with: the file's own when it cannot run in a browser, else bytes."""
    content_type = (attachment.content_type or "").lower()
    return content_type if content_type in SAFE_TYPES else "application/octet-stream"


# --- links ----------------------------------------------------------------------------------------

def download_url(attachment: PostAttachment) -> str:
    """The signed link to one file of a post (the token's first id is the post's: every copy shares the link)."""
    return public_url("post_attachments.download", attachment_id=attachment.id,
                      token=make_token(TOKEN_PURPOSE, attachment.post_id, attachment.id))


def attachment_for_link(attachment_id: int, token: str) -> PostAttachment | None:
    """The file a valid link names, if its post is published (a waiting or declined post's files stay hidden)."""
    try:
        post_id = read_token(TOKEN_PURPOSE, token, object_id=attachment_id)
    except TokenError:
        return None
    attachment = db.session.get(PostAttachment, attachment_id)
    if attachment is None or attachment.post_id != post_id or attachment.post.status != "published":
        return None
    return attachment


def listing(post: Post) -> list[dict]:
    """What a copy or an archive page shows of the post's files: name, size in words, link."""
    return [{"id": a.id, "filename": a.filename, "size": a.size, "size_text": size_text(a.size),
             "url": download_url(a)} for a in post.attachments]


def size_text(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --- the coordinator's setting --------------------------------------------------------------------

def limit_kb(value) -> int:
    """The attachment limit a coordinator typed, as whole KB from 0 (no files) to MAX_LIMIT_KB (empty: the
    default); else DomainError."""
    text = str(value if value is not None else "").strip()
    if not text:
        return DEFAULT_LIMIT_KB
    if not text.isdecimal() or int(text) > MAX_LIMIT_KB:
        raise DomainError(_("The attachment limit is a whole number of KB from 0 (no attachments) to %(max)d.",
                            max=MAX_LIMIT_KB), "attachment_limit_kb")
    return int(text)


# --- telling the member ---------------------------------------------------------------------------

def refuse(row, incoming, member: Member, community: Community, refused: Refused) -> int:
    """Queue the answer saying which file stopped the post and why (once per received message)."""
    from service.inbound.confirmations import confirm  # the inbound package imports this module's callers
    return confirm("post_attachment_refused", row, incoming, member, community, why=refused.why,
                   filename=refused.filename, size=refused.size, limit_kb=community.attachment_limit_kb,
                   subject=incoming.subject)


def refusal_extras(row, member: Member, community: Community) -> dict:
    """What the answer's templates need (the file's size in words, the limit as the coordinator set it)."""
    context = row.context
    return {"why": context["why"], "filename": context["filename"], "size_text": size_text(context.get("size", 0)),
            "limit_text": size_text(context["limit_kb"] * 1024) if context["limit_kb"] else "",
            "subject": context.get("subject", ""), "max_files": MAX_FILES}
