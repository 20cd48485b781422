"""deploy/: the systemd units pass `systemd-analyze verify` and start what `make run` starts; the
nginx site passes `nginx -t`, shipped and as the city layout runs it."""

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from bot.city import Nginx, nginx_site
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import Stack, settings_env
from tests.system import require

DEPLOY = PROJECT_ROOT / "deploy"
UNITS = DEPLOY / "systemd"
INSTALLED_AT = "/opt/bot"
# each unit, as an instance name to verify, and the supervisor's service it must run alike
SERVICES = {
    "bot-rasa@5005.service": "rasa-0",
    "bot-actions.service": "actions",
    "bot-gateway@8001.service": "gateway-0",
}


def unit_file(instance: str) -> Path:
    return UNITS / re.sub(r"@[^.]+", "@", instance)


def exec_start(instance: str) -> list[str]:
    line = next(line for line in unit_file(instance).read_text().splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")


def test_the_units_pass_systemd_analyze_verify(tmp_path):
    require(shutil.which("systemd-analyze") is not None, "systemd")
    # verify checks that each ExecStart binary exists: the units as installed in this checkout
    for unit in UNITS.iterdir():
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_AT, str(PROJECT_ROOT)))
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *SERVICES, "bot.target"],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},  # the trailing colon keeps systemd's own path
    )
    assert checked.returncode == 0 and checked.stderr == "", checked.stderr  # unknown keys are only warnings


def test_a_unit_with_a_mistake_fails_the_check(tmp_path):
    require(shutil.which("systemd-analyze") is not None, "systemd")
    (tmp_path / "bot-actions.service").write_text((UNITS / "bot-actions.service").read_text())  # /opt/bot is absent
    checked = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "bot-actions.service"],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_UNIT_PATH": f"{tmp_path}:"},
    )
    assert checked.returncode != 0 and "is not executable" in checked.stderr


def test_each_unit_starts_its_process_as_make_run_does(tmp_path):
    settings = Settings(
        var_dir=tmp_path,
        rasa_host="${RASA_HOST}",
        gateway_host="${GATEWAY_HOST}",
        rasa_port=5005,
        gateway_port=8001,
        actions_port=5055,
    )
    stack = Stack(settings)
    port_in_unit = {"rasa-0": ("5005", "%i"), "gateway-0": ("8001", "%i"), "actions": ("5055", "${ACTIONS_PORT}")}
    for instance, name in SERVICES.items():
        port, placeholder = port_in_unit[name]
        expected = [
            placeholder if arg == port else arg.replace(str(PROJECT_ROOT), INSTALLED_AT)
            for arg in stack.service(name).argv
        ]
        assert exec_start(instance) == expected


def test_the_environment_file_names_what_the_supervisor_sets(tmp_path):
    settings = Settings(var_dir=tmp_path)
    derived = set(Stack(settings).env) - set(os.environ) - set(settings_env(settings))
    example = {
        line.lstrip("# ").split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines() if "=" in line
    }
    rasa_unit = (UNITS / "bot-rasa@.service").read_text()
    missing = [name for name in derived if name not in example and f"{name}=" not in rasa_unit]
    assert not missing
    for unit in UNITS.glob("*.service"):
        assert "EnvironmentFile=/etc/bot/env" in unit.read_text() and "SECRET" not in exec_start(unit.name)


def nginx_test(tmp_path: Path, http_block: str) -> subprocess.CompletedProcess:
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\nhttp {{\n{http_block}\n}}\n"
    )
    return subprocess.run(
        [nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
    )


def test_the_shipped_nginx_site_passes_nginx_t(tmp_path):
    require(nginx_binary() is not None, "nginx")
    checked = nginx_test(tmp_path, f"include {DEPLOY / 'nginx' / 'bot.conf'};")
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr
    broken = nginx_test(tmp_path, "proxy_buffering sometimes;")
    assert broken.returncode != 0


def test_the_city_runs_the_shipped_site_on_its_own_ports(tmp_path):
    require(nginx_binary() is not None, "nginx")
    site = nginx_site("127.0.0.1:9000", ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"])
    assert re.findall(r"server (\S+) max_fails", site) == ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"]
    assert re.findall(r"listen (\S+);", site) == ["127.0.0.1:9000"]
    shipped = (DEPLOY / "nginx" / "bot.conf").read_text()
    unchanged = [line for line in shipped.splitlines() if "server 127.0.0.1" not in line and "listen" not in line]
    assert unchanged == [line for line in site.splitlines() if "server 127.0.0.1" not in line and "listen" not in line]
    assert "proxy_buffering off;" in site and "client_max_body_size 6m;" in site
    nginx = Nginx(tmp_path, 9000, [9001, 9002])
    nginx.write_configuration()
    checked = subprocess.run([*nginx.command, "-t"], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_nginx_lets_an_idle_gateway_connection_go_before_the_gateway_closes_it(tmp_path):
    """Else nginx may send a POST down a connection the gateway is closing: a reset, a 502, and
    that gateway marked down for everyone (seen under load before the two were set)."""
    upstream = re.search(r"upstream bot_gateways \{(.*?)\}", (DEPLOY / "nginx" / "bot.conf").read_text(), re.S)
    nginx_idle_s = int(re.search(r"keepalive_timeout (\d+)s;", upstream.group(1)).group(1))
    argv = Stack(Settings(var_dir=tmp_path)).service("gateway-0").argv
    gateway_idle_s = int(argv[argv.index("--timeout-keep-alive") + 1])
    assert nginx_idle_s < gateway_idle_s
