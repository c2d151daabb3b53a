"""A real IMAP server for tests: Dovecot with a throw-away configuration, one user, Maildir storage, no TLS.

Dovecot runs as root here (as in CI) and stores mail as `nobody`, in a
folder of its own under /tmp that `nobody` can reach.
"""
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.services import require
from tests.smtp_server import free_port

USER, PASSWORD = "cop-inbox", "imap-test-password"
DOVECOT = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None)

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


class Dovecot:
    """`with Dovecot() as server:` server.port, USER and PASSWORD log in; stopped and removed afterwards."""

    def __init__(self):
        require(DOVECOT is not None, "Dovecot (Debian's dovecot-imapd)")
        require(os.geteuid() == 0, "root, to start Dovecot")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="cop-dovecot-"))
        self.process = None

    def __enter__(self):
        nobody = pwd.getpwnam("nobody")
        self.root.chmod(0o755)
        for name in ("run", "state", "mail", "home"):
            (self.root / name).mkdir()
        for name in ("mail", "home"):
            os.chown(self.root / name, nobody.pw_uid, nobody.pw_gid)
        (self.root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        (self.root / "dovecot.conf").write_text(CONFIG.format(root=self.root, port=self.port, uid=nobody.pw_uid,
                                                              gid=nobody.pw_gid))
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_until_listening()
        return self

    def _wait_until_listening(self) -> None:
        for _ in range(100):
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot did not start: {self.process.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                    if connection.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot is not answering on port {self.port}")

    def __exit__(self, *exc):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def mailbox(self):
        """A logged-in imap-tools client, as a person with the same mailbox would have."""
        from imap_tools import MailBoxUnencrypted
        return MailBoxUnencrypted("127.0.0.1", self.port).login(USER, PASSWORD)
