"""The deploy files are complete and well-formed: every setting the code reads is in the example
environment file and the other way round, the compose files are YAML of the expected shape, the
systemd unit parses and is hardened, and the Dockerfile installs the package normally.
(No Docker engine runs in CI: the images are not built here; `bench/check_install.py` checks a
normal install of the package.)"""

from __future__ import annotations

import configparser
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SETTING = re.compile(r"""["']((?:KERN_COACH|TELEGRAM|SIGNAL)_[A-Z0-9_]+)["']""")
EXAMPLE_LINE = re.compile(r"^#?\s*((?:KERN_COACH|TELEGRAM|SIGNAL)_[A-Z0-9_]+)=", re.MULTILINE)


def settings_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for folder in ("bot", "flows"):
        for path in (ROOT / folder).rglob("*.py"):
            found |= set(SETTING.findall(path.read_text(encoding="utf-8")))
    return found


def test_every_setting_the_code_reads_is_in_the_example_and_the_other_way_round():
    example = (DEPLOY / "kern-coach.env.example").read_text(encoding="utf-8")
    listed = set(EXAMPLE_LINE.findall(example))
    read = settings_read_by_the_code()
    assert "KERN_COACH_DATABASE_URL" in read and "TELEGRAM_BOT_TOKEN" in read  # the scan works
    assert sorted(read - listed) == [], "read by the code, missing from the example"
    assert sorted(listed - read) == [], "in the example, read by nothing"


def test_every_setting_is_explained_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert sorted(s for s in settings_read_by_the_code() if f"`{s}`" not in readme) == []


def test_the_compose_files_are_yaml_with_the_coach_its_database_and_optional_signal_cli():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"coach", "db", "signal-cli"} <= set(services)
    assert services["coach"]["build"]["dockerfile"] == "deploy/Dockerfile"
    assert services["coach"]["env_file"] == "kern-coach.env"
    assert services["coach"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["signal-cli"]["profiles"] == ["signal"]  # only when asked for
    assert "profiles" not in services["coach"] and "profiles" not in services["db"]
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert named <= set(compose["volumes"])
    webhook = yaml.safe_load((DEPLOY / "compose.webhook.yaml").read_text(encoding="utf-8"))
    command = webhook["services"]["coach"]["command"]
    assert command[:3] == ["kern-coach", "telegram", "--webhook-url"]
    assert command[3].startswith("https://")


def test_the_systemd_unit_parses_and_is_hardened():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read_string((DEPLOY / "kern-coach.service").read_text(encoding="utf-8"))
    assert set(unit.sections()) == {"Unit", "Service", "Install"}
    service = unit["Service"]
    assert service["DynamicUser"] == "yes" or "User" in service
    assert service["StateDirectory"] == "kern-coach"
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["PrivateTmp"] == "yes"
    assert service["ExecStart"].endswith("kern-coach telegram")
    assert service["WorkingDirectory"] == "/var/lib/kern-coach"
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_the_systemd_unit_gives_matplotlib_a_cache_it_may_write():
    unit = (DEPLOY / "kern-coach.service").read_text(encoding="utf-8")
    settings = [line.partition("=") for line in unit.splitlines() if "=" in line]
    cache = [value for key, _, value in settings if key == "CacheDirectory"]
    environment = dict(
        value.partition("=")[::2] for key, _, value in settings if key == "Environment"
    )
    assert cache == ["kern-coach"]
    assert environment["MPLCONFIGDIR"].startswith("/var/cache/kern-coach/")


def test_the_dockerfile_installs_the_package_normally_and_runs_it_unprivileged():
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and all(" -e " not in line and "--editable" not in line for line in installs)
    assert "rm -rf /src" in dockerfile  # the coach cannot fall back on the sources
    for folder in ("bot", "flows", "locales"):
        assert f"COPY {folder} " in dockerfile
    assert re.search(r"^USER (?!root)\w+", dockerfile, re.MULTILINE)
    assert "/healthz" in dockerfile


def test_every_python_folder_of_the_coach_is_a_package_that_pip_installs():
    """pyproject lists the packages one by one (locales/ is mapped into flows): a new folder of
    code that is not listed would be missing from every normal install."""
    import tomllib

    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
            "packages"
        ]
    )
    folders = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in ("bot", "flows")
        for path in (ROOT / top).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sorted(folders - listed) == []


def test_signal_runs_as_a_compose_profile_and_as_systemd_units_beside_the_coach():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    daemon, coach = services["signal-cli"], services["coach-signal"]
    assert coach["profiles"] == daemon["profiles"] == ["signal"]
    assert coach["command"] == ["kern-coach", "signal"]
    assert coach["environment"]["SIGNAL_CLI_URL"] == "tcp://signal-cli:7583"
    # The image's HEALTHCHECK asks /healthz on 8080, which the Signal coach serves too.
    assert coach["environment"]["KERN_COACH_SIGNAL_HEALTH_PORT"] == "8080"
    assert "healthcheck" not in coach
    assert coach["depends_on"]["db"]["condition"] == "service_healthy"
    assert "signal-cli" in coach["depends_on"]
    command = daemon["command"]
    assert command[command.index("daemon") :] == [
        "daemon",
        "--tcp",
        "0.0.0.0:7583",
        "--receive-mode=manual",  # messages wait on Signal's side while the coach is away
    ]
    assert "ports" not in daemon  # reachable by the coach only, never from outside

    def unit(name: str) -> configparser.SectionProxy:
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment, method-assign]
        parser.read_string((DEPLOY / name).read_text(encoding="utf-8"))
        assert set(parser.sections()) == {"Unit", "Service", "Install"}
        service = parser["Service"]
        assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
        return service

    # Beside kern-coach.service on one host, from one environment file: a health port of its own.
    assert unit("kern-coach-signal.service")["ExecStart"].endswith(
        "kern-coach signal --health-port 8081"
    )
    start = unit("signal-cli.service")["ExecStart"]
    assert "daemon --tcp 127.0.0.1:7583 --receive-mode=manual" in start
