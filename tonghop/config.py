"""The configuration of tonghop: one ``tonghop.toml`` file, with environment overrides.

    [organisation]   the header block of the briefing (issuing body, number, signer, recipients)
    [mail]           who receives the briefing by e-mail and through which SMTP server
    [paths]          source folder, output folder, store, archive of issued briefings
    [schedules]      the cron schedules of the served deployments (timezone Asia/Ho_Chi_Minh)

``load_config(path, env)`` is pure (a file and a mapping in, a validated ``Config`` out) so
that it can be tested without touching ``os.environ``. Every section and key is checked at
start (pydantic models with ``extra="forbid"``): a typo or a bad value stops the run with a
``ConfigError`` naming the key, e.g. ``mail.port: Input should be a valid integer``, or the
environment variable when the value came from there (``TONGHOP_SMTP_PORT``).

The SMTP password may come from ``TONGHOP_SMTP_PASSWORD``, from a Prefect Secret block named
in ``mail.password_secret``, or (tolerated, not advised) from the file. It is held as a pydantic
``SecretStr``: printing or logging the config shows ``**********``, never the password.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from tasks.render import Organisation

#: Where ``tonghop`` looks for its config file when none is given.
DEFAULT_CONFIG_NAME = "tonghop.toml"
#: The timezone of the schedules: Vietnam has one (UTC+7, no daylight saving time).
#: "Asia/Ho_Chi_Minh" is the IANA name; "Asia/Hanoi" does not exist in tzdata.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"

#: Environment variable -> (section, key). They win over the file.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "TONGHOP_MAIL_TO": ("mail", "to"),
    "TONGHOP_MAIL_FROM": ("mail", "from"),
    "TONGHOP_SMTP_HOST": ("mail", "host"),
    "TONGHOP_SMTP_PORT": ("mail", "port"),
    "TONGHOP_SMTP_SECURITY": ("mail", "security"),
    "TONGHOP_SMTP_USER": ("mail", "user"),
    "TONGHOP_SMTP_PASSWORD": ("mail", "password"),
}

#: The usual port of each kind of SMTP connection, used when ``mail.port`` is not set.
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


class ConfigError(ValueError):
    """The config file or an override is wrong; the message names the key and the reason."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _organisation_model() -> type[BaseModel]:
    """A pydantic model with exactly the fields of ``tasks.render.Organisation``, all optional.

    Built from the dataclass so that a field added to the header block there is accepted here
    without a change, and a key that is not a field is refused by name.
    """
    hints = typing.get_type_hints(Organisation)
    fields: dict[str, Any] = {
        f.name: (hints[f.name] | None, None) for f in dataclasses.fields(Organisation)
    }
    return create_model(
        "OrganisationConfig",
        __config__=ConfigDict(extra="forbid", frozen=True),
        **fields,
    )


OrganisationConfig = _organisation_model()


class MailConfig(_Section):
    """The ``[mail]`` section: recipients and SMTP server.

    Attributes:
        to: recipients' addresses (``TONGHOP_MAIL_TO``, comma-separated).
        sender: the From address (key ``from`` in the file, ``TONGHOP_MAIL_FROM``).
        host, port, security: the SMTP server; ``security`` is ``none`` (plain, port 25),
            ``starttls`` (587) or ``ssl`` (implicit TLS, 465). ``port`` defaults by security.
        user: login name; no login when empty.
        password: from ``TONGHOP_SMTP_PASSWORD`` (or the file); never printed.
        password_secret: name of a Prefect Secret block holding the password, read at send time.
        ca_file: PEM file of the certificate authority of the server (an intranet mail server
            with its own CA); empty: the system's trusted authorities.
        subject: subject line; ``{date}`` and ``{scope}`` are filled in.
        retries, retry_delay_seconds: attempts after the first and the first delay, doubled
            at each retry (exponential backoff: 10 s, 20 s, 40 s by default).
        timeout_seconds: socket timeout of one attempt.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    to: tuple[str, ...] = ()
    sender: str = Field(default="", alias="from")
    host: str = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["none", "starttls", "ssl"] = "none"
    user: str = ""
    password: SecretStr | None = None
    password_secret: str = ""
    ca_file: Path | None = None
    subject: str = "Báo cáo tổng hợp công tác quốc phòng, quân sự địa phương ({date})"
    retries: int = Field(default=3, ge=0, le=10)
    retry_delay_seconds: float = Field(default=10.0, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)

    @field_validator("to", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        # "a@x.vn, b@y.vn" (as TONGHOP_MAIL_TO gives it) or a TOML list; blanks dropped
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            stripped = (v.strip() if isinstance(v, str) else v for v in value)
            return tuple(v for v in stripped if v != "")
        return value

    @field_validator("to")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if "@" not in address or any(c.isspace() for c in address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if value and "@" not in value:
            raise ValueError(f"not an e-mail address: {value!r}")
        return value

    @property
    def smtp_port(self) -> int:
        """The port to connect to: ``port`` or the usual one for ``security``."""
        return self.port or DEFAULT_PORTS[self.security]

    def retry_delays(self) -> list[float]:
        """Delays before each retry, doubling: ``[10, 20, 40]`` for 3 retries from 10 s."""
        return [self.retry_delay_seconds * 2**i for i in range(self.retries)]

    def missing_for_sending(self) -> list[str]:
        """The keys that must be set before a message can be sent (empty when ready)."""
        missing = []
        if not self.to:
            missing.append("mail.to (TONGHOP_MAIL_TO)")
        if not self.sender:
            missing.append("mail.from (TONGHOP_MAIL_FROM)")
        if not self.host:
            missing.append("mail.host (TONGHOP_SMTP_HOST)")
        return missing


class PathsConfig(_Section):
    """The ``[paths]`` section, relative paths being relative to the config file's folder.

    Attributes:
        source: folder of reports (read-only).
        out: folder of the briefing and tables of the latest run.
        store: the DuckDB store.
        archive: folder of issued briefings, ``briefing-YYYY-MM-DD-<scope>.docx``; unset:
            ``archive/`` inside the output folder of the run (see ``archive_for``).
        scope: a fixed name for the archive (e.g. ``quan-khu-4``); empty: made from the
            provinces and years of the briefing.
    """

    source: Path = Path("seeds")
    out: Path = Path("out")
    store: Path = Path("data/tonghop.duckdb")
    archive: Path | None = None
    scope: str = ""

    def archive_for(self, out: Path) -> Path:
        """The archive folder of a run writing into ``out``: ``archive``, else ``out/archive``."""
        return self.archive if self.archive is not None else out / "archive"

    @field_validator("scope")
    @classmethod
    def _slug(cls, value: str) -> str:
        if value and not all(c.isascii() and (c.isalnum() or c in "-_") for c in value):
            raise ValueError(f"use ASCII letters, digits, '-' and '_' only: {value!r}")
        return value


class SchedulesConfig(_Section):
    """The ``[schedules]`` section: a timezone and ``[schedules.cron]``, name -> cron string.

    Each name becomes a deployment ``build-briefing/<name>`` when served.
    """

    timezone: str = DEFAULT_TIMEZONE
    #: whether the served deployments e-mail the briefing (``email`` parameter of the flow)
    email: bool = False
    cron: dict[str, str] = Field(
        default_factory=lambda: {"monthly": "0 6 1 * *", "year-end": "0 17 31 12 *"}
    )

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        _check_cron("0 0 * * *", value)
        return value

    @field_validator("cron")
    @classmethod
    def _crons(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        timezone = info.data.get("timezone", DEFAULT_TIMEZONE)
        for name, expr in value.items():
            if not name or not all(c.isascii() and (c.isalnum() or c in "-_") for c in name):
                raise ValueError(f"schedule name {name!r}: use ASCII letters, digits, '-', '_'")
            try:
                _check_cron(expr, timezone)
            except ValueError as err:
                raise ValueError(f"{name}: {err}") from None
        return value


def _check_cron(expr: str, timezone: str) -> None:
    """Validate with the model the Prefect server uses, so that ``tonghop serve`` cannot
    register a schedule the server would refuse."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=expr, timezone=timezone)
    except ValidationError as err:
        raise ValueError("; ".join(str(e["msg"]) for e in err.errors())) from None


class Config(_Section):
    """The whole validated config."""

    organisation: OrganisationConfig = Field(default_factory=OrganisationConfig)  # type: ignore[valid-type]
    mail: MailConfig = Field(default_factory=MailConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)
    schedules: SchedulesConfig = Field(default_factory=SchedulesConfig)

    def require_mail(self) -> None:
        """Check, before any work, that ``--email`` can send: recipients, sender and host set.

        Raises:
            ConfigError: naming the keys (and their environment variables) still missing.
        """
        missing = self.mail.missing_for_sending()
        if missing:
            raise ConfigError("cannot e-mail the briefing: set " + ", ".join(missing))

    def to_organisation(self) -> Organisation:
        """The header block for ``tasks.render``: only the keys the file sets, defaults else."""
        values = self.organisation.model_dump(exclude_none=True)  # type: ignore[attr-defined]
        return Organisation(**values)


def find_config(explicit: Path | None, env: Mapping[str, str], cwd: Path) -> Path | None:
    """The config file to use: ``--config``, else ``$TONGHOP_CONFIG``, else ``./tonghop.toml``
    if it exists, else none (built-in defaults)."""
    if explicit is not None:
        return explicit
    if env.get("TONGHOP_CONFIG"):
        return Path(env["TONGHOP_CONFIG"])
    candidate = cwd / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[tuple[str, str], str]:
    """Put the TONGHOP_* overrides into ``raw``; return which keys came from which variable."""
    origin: dict[tuple[str, str], str] = {}
    for var, (section, key) in ENV_OVERRIDES.items():
        value = env.get(var)
        if value is None or value == "":
            continue
        target = raw.setdefault(section, {})
        if not isinstance(target, dict):
            continue  # the section itself is wrong; validation says so
        target[key] = value
        origin[(section, key)] = var
    return origin


def _describe(err: ValidationError, source: str, origin: dict[tuple[str, str], str]) -> str:
    lines = []
    for e in err.errors():
        loc = tuple(str(p) for p in e["loc"])
        key = ".".join(loc) or "(top level)"
        var = origin.get((loc[0], loc[1])) if len(loc) >= 2 else None
        where = f"{var} (overrides {key})" if var else key
        if e["type"] == "extra_forbidden":
            reason = "unknown key"
        else:
            reason = str(e["msg"])
            # show the bad value, except a password
            if "password" not in key and e["type"] not in {"missing"}:
                reason += f" (got {e['input']!r})"
        lines.append(f"{where}: {reason}")
    return f"{source}: " + "; ".join(lines)


def _resolve_paths(paths: PathsConfig, base: Path) -> PathsConfig:
    def under(p: Path) -> Path:
        return p if p.is_absolute() else base / p

    return paths.model_copy(
        update={
            "source": under(paths.source),
            "out": under(paths.out),
            "store": under(paths.store),
            "archive": under(paths.archive) if paths.archive is not None else None,
        }
    )


def load_config(path: Path | None, env: Mapping[str, str]) -> Config:
    """Read, override and validate the config.

    Args:
        path: a TOML file, or None for the built-in defaults. Relative paths of ``[paths]``
            are taken relative to the file's folder, so that a scheduled run started from
            anywhere finds the same folders.
        env: the environment (``os.environ`` in the CLI, a dict in tests); the
            ``TONGHOP_MAIL_*`` and ``TONGHOP_SMTP_*`` variables override ``[mail]``.

    Returns:
        The validated config.

    Raises:
        ConfigError: the file is missing or not TOML, or a key is unknown or has a bad value;
            the message names the file and the key (or the environment variable).
    """
    raw: dict[str, Any] = {}
    source = "built-in defaults"
    if path is not None:
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except (OSError, UnicodeDecodeError) as err:
            raise ConfigError(f"{path}: cannot read the config file ({err})") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    origin = _apply_env(raw, env)
    try:
        config = Config.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(_describe(err, source, origin)) from None
    if path is not None:
        base = path.resolve().parent
        update: dict[str, Any] = {"paths": _resolve_paths(config.paths, base)}
        if config.mail.ca_file is not None and not config.mail.ca_file.is_absolute():
            update["mail"] = config.mail.model_copy(update={"ca_file": base / config.mail.ca_file})
        config = config.model_copy(update=update)
    return config
