"""Config: the sample file loads, environment overrides win, bad keys are named."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tasks.render import Organisation
from tests.conftest import ROOT
from tonghop.config import ConfigError, find_config, load_config

SAMPLE = ROOT / "tonghop.toml"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tonghop.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_file_loads_and_builds_the_header_block() -> None:
    config = load_config(SAMPLE, {})
    org = config.to_organisation()
    assert isinstance(org, Organisation)
    assert org.issuing_body.startswith("BỘ CHỈ HUY QUÂN SỰ TỈNH")
    assert org.recipients[-1] == "Lưu: VT, TM."
    assert config.schedules.timezone == "Asia/Ho_Chi_Minh"
    assert config.schedules.cron["year-end"] == "0 17 31 12 *"
    # relative paths are taken from the file's folder, not the working directory
    assert config.paths.source == ROOT / "seeds"
    assert config.paths.archive_for(Path("/x")) == Path("/x/archive")


def test_no_file_gives_the_defaults_of_the_briefing() -> None:
    config = load_config(None, {})
    assert config.to_organisation() == Organisation()
    assert config.mail.to == ()
    assert config.mail.smtp_port == 25
    # no archive configured: inside the run's output folder
    assert config.paths.archive_for(Path("/tmp/o")) == Path("/tmp/o/archive")


def test_organisation_sets_only_the_keys_given(tmp_path: Path) -> None:
    path = _write(tmp_path, '[organisation]\nplace = "Thanh Hóa"\n')
    org = load_config(path, {}).to_organisation()
    assert org.place == "Thanh Hóa"
    # the other fields keep the dataclass defaults
    defaults = Organisation()
    for field in dataclasses.fields(Organisation):
        if field.name != "place":
            assert getattr(org, field.name) == getattr(defaults, field.name)


def test_environment_overrides_the_mail_section(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        '[mail]\nto = ["a@x.vn"]\nfrom = "f@x.vn"\nhost = "file.example"\nsecurity = "none"\n',
    )
    env = {
        "TONGHOP_MAIL_TO": " b@y.vn, c@z.vn ,  ,",
        "TONGHOP_MAIL_FROM": "tonghop@bchqs.vn",
        "TONGHOP_SMTP_HOST": "smtp.example",
        "TONGHOP_SMTP_PORT": "2525",
        "TONGHOP_SMTP_SECURITY": "ssl",
        "TONGHOP_SMTP_USER": "bot",
        "TONGHOP_SMTP_PASSWORD": "s3cret-pw",
    }
    mail = load_config(path, env).mail
    assert mail.to == ("b@y.vn", "c@z.vn")
    assert mail.sender == "tonghop@bchqs.vn"
    assert (mail.host, mail.smtp_port, mail.security, mail.user) == (
        "smtp.example",
        2525,
        "ssl",
        "bot",
    )
    assert mail.password is not None
    assert mail.password.get_secret_value() == "s3cret-pw"


def test_password_never_shows_in_the_config_text() -> None:
    config = load_config(None, {"TONGHOP_SMTP_PASSWORD": "s3cret-pw"})
    for text in (str(config), repr(config), config.model_dump_json()):
        assert "s3cret-pw" not in text


def test_retry_delays_double() -> None:
    mail = load_config(None, {}).mail
    assert mail.retry_delays() == [10.0, 20.0, 40.0]
    assert mail.missing_for_sending() == [
        "mail.to (TONGHOP_MAIL_TO)",
        "mail.from (TONGHOP_MAIL_FROM)",
    ]


@pytest.mark.parametrize(
    ("text", "env", "named"),
    [
        # a typo in a key of a section
        ('[mail]\nhots = "x"\n', {}, r"mail\.hots: unknown key"),
        # a whole unknown section
        ("[mailer]\nto = []\n", {}, r"mailer: unknown key"),
        # a key the header block does not have
        ('[organisation]\nsigner = "Đại tá"\n', {}, r"organisation\.signer: unknown key"),
        # a wrong type in the file
        ('[mail]\nport = "abc"\n', {}, r"mail\.port: .*integer"),
        # a wrong value from the environment names the variable
        ("", {"TONGHOP_SMTP_PORT": "abc"}, r"TONGHOP_SMTP_PORT \(overrides mail\.port\)"),
        ("", {"TONGHOP_SMTP_SECURITY": "tls"}, r"TONGHOP_SMTP_SECURITY .*'starttls'"),
        ("", {"TONGHOP_MAIL_TO": "a@b.vn, phong tham muu"}, r"TONGHOP_MAIL_TO .*e-mail"),
        # a cron string Prefect would refuse, named by schedule
        ('[schedules.cron]\nmonthly = "0 6 1 *"\n', {}, r"schedules\.cron: .*monthly"),
        # the IANA name is Asia/Ho_Chi_Minh; Asia/Hanoi does not exist
        ('[schedules]\ntimezone = "Asia/Hanoi"\n', {}, r"schedules\.timezone: .*Asia/Hanoi"),
        ('[paths]\nscope = "Nghệ An"\n', {}, r"paths\.scope: .*ASCII"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, text: str, env: dict[str, str], named: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError, match=named):
        load_config(path, env)


def test_bad_password_value_is_not_echoed(tmp_path: Path) -> None:
    path = _write(tmp_path, "[mail]\npassword = 12345678\n")
    with pytest.raises(ConfigError, match=r"mail\.password") as info:
        load_config(path, {})
    assert "12345678" not in str(info.value)


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[mail\n"), {})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml", {})


def test_find_config_order(tmp_path: Path) -> None:
    assert find_config(Path("x.toml"), {"TONGHOP_CONFIG": "y.toml"}, tmp_path) == Path("x.toml")
    assert find_config(None, {"TONGHOP_CONFIG": "y.toml"}, tmp_path) == Path("y.toml")
    assert find_config(None, {}, tmp_path) is None
    _write(tmp_path, "")
    assert find_config(None, {}, tmp_path) == tmp_path / "tonghop.toml"


def test_require_mail_names_what_is_missing() -> None:
    with pytest.raises(ConfigError, match=r"mail\.to \(TONGHOP_MAIL_TO\), mail\.from"):
        load_config(None, {}).require_mail()
    ready = load_config(None, {"TONGHOP_MAIL_TO": "a@x.vn", "TONGHOP_MAIL_FROM": "f@x.vn"})
    ready.require_mail()  # no error
