"""The deployment samples under deploy/ are checked without booting them: systemd units by systemd-analyze,
nginx's site by `nginx -t`, Postfix's snippets by postconf and postmap, the settings file against the app's
own parser, and the MTA's wrapper script by piping a message through it into the database."""
import configparser
import sys
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rq import Queue
from sqlalchemy import select

from service.config import PROJECT_ROOT, ConfigError, load_settings
from service.extensions import db
from service.models import InboundMessage
from tests.services import require

DEPLOY = PROJECT_ROOT / "deploy"
INSTALL_DIR = "/opt/cop"  # where the samples expect the checkout


def env_file(path: Path) -> dict[str, str]:
    """The NAME=value lines of a systemd EnvironmentFile (quotes removed; commented lines are defaults)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip().removeprefix('"').removesuffix('"')
    return values


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / name)
    return parser


def tool(name: str) -> str:
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if Path(p).exists()), None)
    require(path is not None, f"{name} (installed by .ci/run)")
    return path


# --- settings ------------------------------------------------------------------------------------------------


def test_the_settings_sample_names_every_setting_the_app_reads():
    source = (PROJECT_ROOT / "service" / "config.py").read_text()
    read = set(re.findall(r'\(env, "([A-Z_]+)"', source))
    sample = (DEPLOY / "cop.env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z_]+)=", sample, flags=re.M))
    assert read - listed == set(), "settings missing from deploy/cop.env.example"
    assert listed - read - {"BIND", "WEB_CONCURRENCY"} == set(), "the sample lists settings the app does not read"


def test_the_settings_sample_is_a_valid_production_configuration_once_a_secret_key_is_put_in():
    values = env_file(DEPLOY / "cop.env.example")
    with pytest.raises(ConfigError, match="SECRET_KEY"):  # left empty, production refuses to start
        load_settings(values)
    settings = load_settings({**values, "SECRET_KEY": "k" * 48})
    assert settings["APP_ENV"] == "production" and settings["PROXY_COUNT"] == 1
    assert settings["PUBLIC_BASE_URL"].startswith("https://")


# --- systemd -------------------------------------------------------------------------------------------------


def test_the_systemd_units_pass_systemd_analyze_verify(tmp_path):
    """Verified as installed: the paths point at this checkout and its virtualenv, as a deployer's would."""
    analyze = tool("systemd-analyze")
    for source in (DEPLOY / "systemd").iterdir():
        (tmp_path / source.name).write_text(source.read_text().replace(INSTALL_DIR, str(PROJECT_ROOT)))
    units = ["cop-web.service", "cop-worker@1.service", "cop-worker@2.service", "cop-cron.service", "cop.target"]
    result = subprocess.run([analyze, "verify", *(f"./{name}" for name in units)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, ""), result.stderr  # a misspelt line is only a warning


def test_every_process_is_restarted_and_reads_the_settings_file():
    for name in ("cop-web.service", "cop-worker@.service", "cop-cron.service"):
        service = unit(name)["Service"]
        assert service["Restart"] == "always", name
        assert service["EnvironmentFile"] == "/etc/cop/cop.env", name
        assert service["User"] == "cop" and service["WorkingDirectory"] == INSTALL_DIR, name


def test_the_commands_are_the_ones_the_guide_gives():
    guide = (PROJECT_ROOT / "docs" / "operations.md").read_text()
    commands = {"cop-web.service": ".venv/bin/gunicorn -c deploy/gunicorn.conf.py",
                "cop-worker@.service": ".venv/bin/python -m jobs.worker",
                "cop-cron.service": ".venv/bin/python -m jobs.cron"}
    for name, command in commands.items():
        assert unit(name)["Service"]["ExecStart"] == f"{INSTALL_DIR}/{command}", name
        assert command in guide, f"docs/operations.md does not give {command!r}"


def test_a_stopping_worker_finishes_its_job_before_anything_is_killed():
    """SIGTERM is RQ's warm shutdown; only the worker gets it (KillMode=mixed: its work-horse, in a process group
    of its own, is not signalled), and the kill comes only after more than a job may take."""
    service = unit("cop-worker@.service")["Service"]
    assert service["KillSignal"] == "SIGTERM" and service["KillMode"] == "mixed"
    assert int(service["TimeoutStopSec"]) > Queue.DEFAULT_TIMEOUT


# --- nginx ---------------------------------------------------------------------------------------------------


def nginx_site() -> str:
    return (DEPLOY / "nginx" / "cop.conf").read_text()


def test_the_nginx_site_passes_nginx_t_with_a_throwaway_certificate(tmp_path):
    nginx = tool("nginx")
    openssl = tool("openssl")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=cop.example.org", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    site = (nginx_site().replace("/etc/letsencrypt/live/cop.example.org/fullchain.pem", str(cert))
            .replace("/etc/letsencrypt/live/cop.example.org/privkey.pem", str(key))
            .replace("/var/log/nginx/", f"{tmp_path}/"))
    (tmp_path / "cop.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {tmp_path}/cop.conf;\n}}\n")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
                             "-e", str(tmp_path / "error.log")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "syntax is ok" in result.stderr and "[warn]" not in result.stderr, result.stderr


def test_the_nginx_site_sends_what_proxy_count_1_believes_and_forces_https():
    site = nginx_site()
    for header, value in (("Host", "$host"), ("X-Forwarded-For", "$remote_addr"),
                          ("X-Forwarded-Proto", "$scheme"), ("X-Forwarded-Host", "$host"),
                          ("X-Request-ID", "$request_id")):
        assert re.search(rf"proxy_set_header {header} \{value};", site), header
    assert "$proxy_add_x_forwarded_for" not in site  # it would keep what the client sent
    assert re.search(r'add_header Strict-Transport-Security "max-age=\d{8,}" always;', site)
    assert "return 301 https://$host$request_uri;" in site
    assert env_file(DEPLOY / "cop.env.example")["PROXY_COUNT"] == "1"


def test_the_nginx_body_limit_lets_through_what_the_app_accepts():
    limit = re.search(r"client_max_body_size (\d+)m;", nginx_site())
    assert limit and int(limit.group(1)) * 1024 * 1024 >= load_settings({})["MAX_CONTENT_LENGTH"]
    bind = env_file(DEPLOY / "cop.env.example")["BIND"]
    assert f"server {bind};" in nginx_site()


# --- Postfix -------------------------------------------------------------------------------------------------


@pytest.fixture
def postfix_config(tmp_path):
    """A Postfix configuration directory: a stock master.cf and a main.cf with the samples added."""
    tool("postconf")
    stock = next((p for p in (Path("/usr/share/postfix/master.cf.dist"), Path("/etc/postfix/master.cf"))
                  if p.exists()), None)
    require(stock is not None, "Postfix's stock master.cf")
    (tmp_path / "master.cf").write_text(stock.read_text() + (DEPLOY / "postfix" / "master.cf.snippet").read_text())
    transport = tmp_path / "transport"
    transport.write_text((DEPLOY / "postfix" / "transport").read_text())
    (tmp_path / "main.cf").write_text("compatibility_level = 3.6\n" + (DEPLOY / "postfix" / "main.cf.snippet")
                                      .read_text().replace("/etc/postfix/transport", str(transport)))
    return tmp_path


def postconf(config: Path, *args: str) -> str:
    result = subprocess.run([tool("postconf"), "-c", str(config), *args], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "warning" not in result.stderr, result.stderr  # unknown names warn
    return result.stdout


def test_postfix_reads_the_samples_without_a_warning(postfix_config):
    main = postconf(postfix_config, "-n")
    inbound = env_file(DEPLOY / "cop.env.example")["INBOUND_DOMAIN"]
    assert re.search(rf"^relay_domains = .*\b{re.escape(inbound)}$", main, re.M)
    assert "recipient_delimiter = +" in main and "cop_destination_recipient_limit = 1" in main
    cop = postconf(postfix_config, "-M", "cop/unix").split()
    assert cop[:8] == ["cop", "unix", "-", "n", "n", "-", "4", "pipe"]
    assert "user=cop" in cop and "null_sender=" in cop
    assert " ".join(cop).endswith(f"argv={INSTALL_DIR}/deploy/postfix/cop-mail-receive "
                                  "--to ${recipient} --sender ${sender}")


def test_the_transport_map_sends_the_whole_inbound_domain_to_the_pipe(postfix_config):
    postmap = tool("postmap")
    table = f"hash:{postfix_config / 'transport'}"
    subprocess.run([postmap, "-c", str(postfix_config), table], check=True, capture_output=True, timeout=30)
    inbound = env_file(DEPLOY / "cop.env.example")["INBOUND_DOMAIN"]
    found = subprocess.run([postmap, "-c", str(postfix_config), "-q", inbound, table], capture_output=True,
                           text=True, timeout=30)
    assert found.stdout.strip() == "cop:"


def test_the_mta_wrapper_stores_a_piped_message_and_defers_without_settings(app, ctx, tmp_path):
    """deploy/postfix/cop-mail-receive as Postfix runs it: settings from the env file, the message on stdin."""
    settings = tmp_path / "cop.env"
    settings.write_text(f'DATABASE_URL={app.config["SQLALCHEMY_DATABASE_URI"]}\nREDIS_URL={app.config["REDIS_URL"]}\n'
                        f'INSTANCE_DIR={tmp_path}\nMAIL_SERVER=127.0.0.1\nINBOUND_DOMAIN={app.config["INBOUND_DOMAIN"]}\n'
                        f'SECRET_KEY="{app.config["SECRET_KEY"]}"\n')
    script = tmp_path / "cop-mail-receive"
    script.write_text((DEPLOY / "postfix" / "cop-mail-receive").read_text()
                      .replace("/etc/cop/cop.env", str(settings)).replace(INSTALL_DIR, str(PROJECT_ROOT)))
    script.chmod(0o755)
    recipient = f"somebody@{app.config['INBOUND_DOMAIN']}"
    message = (b"From: Ana <ana@example.org>\r\nTo: " + recipient.encode() + b"\r\nSubject: hello\r\n"
               b"Message-ID: <wrapper-test@example.org>\r\n\r\nA reply.\r\n")
    env = {"PATH": "/usr/bin:/bin"}  # what Postfix's pipe gives: nothing of ours
    done = subprocess.run([str(script), "--to", recipient, "--sender", "ana@example.org"], input=message,
                          capture_output=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    db.session.commit()
    stored = db.session.scalars(select(InboundMessage)).all()
    assert [(m.message_id, m.envelope_from, m.raw) for m in stored] == [("<wrapper-test@example.org>",
                                                                          "ana@example.org", message)]
    settings.unlink()
    deferred = subprocess.run([str(script), "--to", recipient, "--sender", "ana@example.org"], input=message,
                              capture_output=True, env=env, timeout=60)
    assert deferred.returncode == 75  # Postfix keeps the message and tries again later


# --- gunicorn ------------------------------------------------------------------------------------------------


def test_gunicorn_with_the_sample_config_refuses_a_bad_setting_in_one_line(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "INSTANCE_DIR": str(tmp_path), "LOG_FORMAT": "xml"}
    done = subprocess.run([str(Path(sys.executable).parent / "gunicorn"), "-c", "deploy/gunicorn.conf.py"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == "Cannot start: LOG_FORMAT must be one of text, json, got 'xml'"
