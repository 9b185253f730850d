"""Distribute stage: the built briefing -> the archive folder and the recipients' mailboxes.

Runs after render and only reads what render wrote (``briefing.docx``); a failure here never
removes or changes it.

Folder drop: the briefing is copied into the archive folder as
``briefing-YYYY-MM-DD-<scope>.docx``, dated in Vietnam's time (a monthly run at 06:00 on the
1st is 23:00 UTC the day before), ``<scope>`` being a configured name or a slug of the
provinces and years ("Thanh Hóa", "Nghệ An", 2023-2024 -> ``nghe-an-thanh-hoa-2023-2024``).
The archive is never overwritten:

- a file of that name with the same bytes: nothing to do (a re-run of the same day);
- a file of that name with other bytes: the briefing goes to ``...-2.docx`` (then ``-3``, ...),
  so that every version issued that day is kept;
- the copy is written to a temporary file and linked to its final name, which fails instead of
  replacing when another run took the name first: a reader never sees half a file.

E-mail: one message to every recipient with the DOCX attached, through SMTP with ``none``,
``starttls`` or ``ssl`` security and a login when a user is set. One attempt is
``send_message``; ``send_with_retries`` retries it with exponential backoff for plain use, and
``email_task`` lets Prefect retry it (each attempt visible as a task-run retry). Permanent errors
(authentication refused, recipient refused: SMTP 5xx, TLS certificate refused) are not retried.
A send that still fails raises ``DeliveryError`` naming ``host:port`` and the SMTP error. The
password is never in a message, a log line or a task parameter: it is read at send time.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import smtplib
import ssl
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.logging import get_run_logger

from tonghop.config import DEFAULT_TIMEZONE, MailConfig

DOCX_TYPE = ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document")
#: Above this many provinces the scope says how many instead of naming them.
MAX_NAMED_PROVINCES = 3

DropStatus = Literal["new", "revision", "unchanged"]


# --- names ---------------------------------------------------------------------------------


def slugify(text: str) -> str:
    """ASCII slug of a Vietnamese name: "Thanh Hóa" -> "thanh-hoa", "Đắk Lắk" -> "dak-lak".

    Tone marks and vowel marks go with the NFD decomposition; "đ"/"Đ" is a letter of its own
    (not a d with a mark), so it is mapped by hand.
    """
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    )
    words = "".join(c.lower() if c.isascii() and c.isalnum() else " " for c in ascii_text)
    return "-".join(words.split())


def scope_slug(provinces: Iterable[str], years: Iterable[int], name: str = "") -> str:
    """The ``<scope>`` of an archive name: ``name`` when configured, else provinces and years.

    >>> scope_slug(["Thanh Hóa", "Nghệ An"], [2024, 2023])
    'nghe-an-thanh-hoa-2023-2024'

    More than three provinces read as their count ("34-dia-phuong-2024"); no province and no
    year known gives "tong-hop", so that a name is always there.
    """
    if name:
        return name
    places = sorted({slugify(p) for p in provinces if p and slugify(p)})
    spans = sorted({int(y) for y in years})
    parts = []
    if len(places) > MAX_NAMED_PROVINCES:
        parts.append(f"{len(places)}-dia-phuong")
    else:
        parts.extend(places)
    if spans:
        parts.append(str(spans[0]) if len(spans) == 1 else f"{spans[0]}-{spans[-1]}")
    return "-".join(parts) or "tong-hop"


def scope_of(documents: pd.DataFrame, name: str = "") -> str:
    """``scope_slug`` of a documents frame (its ``province`` and ``year`` columns)."""
    if name or documents.empty:
        return scope_slug([], [], name)
    provinces = [str(p) for p in documents["province"].dropna() if str(p)]
    years = [int(y) for y in documents["year"].dropna()]
    return scope_slug(provinces, years)


def today_in(timezone: str = DEFAULT_TIMEZONE, now: datetime | None = None) -> date:
    """The date in Vietnam (or ``timezone``), whatever the machine's clock zone."""
    moment = now or datetime.now(tz=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(timezone)).date()


def dated_name(day: date, scope: str, revision: int = 1) -> str:
    """``briefing-2025-01-01-nghe-an-2024.docx``; revision 2 and on add ``-2``, ``-3``, ..."""
    suffix = "" if revision == 1 else f"-{revision}"
    return f"briefing-{day.isoformat()}-{scope}{suffix}.docx"


# --- folder drop ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Dropped:
    """Where the briefing went in the archive.

    Attributes:
        path: the archived file.
        status: ``new`` (first of the day), ``revision`` (other bytes than an earlier file of
            the day, kept beside it as ``-2``, ``-3``, ...), ``unchanged`` (the same bytes were
            already there: nothing written).
    """

    path: Path
    status: DropStatus


def _create_exclusive(path: Path, data: bytes) -> bool:
    """Write ``data`` to the new file ``path`` atomically; False if ``path`` already exists.

    The bytes go to a temporary file of the same folder, then ``os.link`` gives it its name:
    the link fails if the name is taken, so an existing file is never replaced, and the name
    appears only once the content is complete.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:
            # a file system without hard links: check, then rename (a narrow race remains)
            if path.exists():
                return False
            os.replace(tmp, path)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def drop_file(briefing: Path, archive: Path, day: date, scope: str) -> Dropped:
    """Copy ``briefing`` into ``archive`` under its dated name, keeping every earlier file.

    Args:
        briefing: the built DOCX (left untouched).
        archive: the archive folder (created if missing).
        day: the issue date of the name, normally ``today_in("Asia/Ho_Chi_Minh")``.
        scope: the scope part of the name (see ``scope_slug``).

    Returns:
        The archived path and whether it was new, a revision or already there.
    """
    data = briefing.read_bytes()
    archive.mkdir(parents=True, exist_ok=True)
    revision = 1
    while True:
        target = archive / dated_name(day, scope, revision)
        if target.exists():
            if target.read_bytes() == data:
                return Dropped(target, "unchanged")
            revision += 1
            continue
        if _create_exclusive(target, data):
            return Dropped(target, "new" if revision == 1 else "revision")
        # another run took this name between the check and the link: look at it again


# --- e-mail --------------------------------------------------------------------------------


class DeliveryError(RuntimeError):
    """The briefing could not be e-mailed. ``permanent``: retrying will not help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def build_message(
    briefing: Path,
    mail: MailConfig,
    day: date,
    scope: str,
    body: str = "",
) -> EmailMessage:
    """The message: From, To (every recipient), subject with the date, the DOCX attached.

    The attachment is the file's bytes as they are (base64 in transit), under the name the
    archive gives it, so that what a recipient saves is what was built.
    """
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = ", ".join(mail.to)
    msg["Subject"] = mail.subject.format(date=day.strftime("%d/%m/%Y"), scope=scope)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=mail.sender.rpartition("@")[2] or None)
    msg.set_content(
        body
        or (
            "Kính gửi các đồng chí,\n\n"
            f"Gửi kèm báo cáo tổng hợp ngày {day.strftime('%d/%m/%Y')} ({scope}).\n\n"
            "Thư được gửi tự động bởi tonghop."
        )
    )
    guessed = mimetypes.guess_type(briefing.name)[0]
    maintype, subtype = guessed.split("/", 1) if guessed else DOCX_TYPE
    msg.add_attachment(
        briefing.read_bytes(),
        maintype=maintype,
        subtype=subtype,
        filename=dated_name(day, scope) if briefing.suffix == ".docx" else briefing.name,
    )
    return msg


def _scrub(text: str, password: str | None) -> str:
    return text.replace(password, "***") if password else text


def _tls_context(mail: MailConfig) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(mail.ca_file) if mail.ca_file else None)


def _is_permanent(err: BaseException) -> bool:
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in err.recipients.values())
    if isinstance(err, smtplib.SMTPResponseException):
        return err.smtp_code >= 500
    if isinstance(err, smtplib.SMTPNotSupportedError):
        return True  # e.g. STARTTLS asked of a server that does not offer it
    return isinstance(err, ssl.SSLCertVerificationError)


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; a non-ASCII password ("Mật-khẩu") goes as UTF-8 in AUTH PLAIN (RFC 4616).

    ``smtplib.login`` encodes credentials as ASCII and fails on Vietnamese letters before it
    reaches the server, so those are sent by hand when the server offers PLAIN.
    """
    if (user + password).isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "PLAIN" not in smtp.esmtp_features.get("auth", "").upper().split():
        raise smtplib.SMTPNotSupportedError(
            "the password has non-ASCII letters and the server does not offer AUTH PLAIN"
        )
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
    code, resp = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, resp)


def send_message(msg: EmailMessage, mail: MailConfig, password: str | None) -> list[str]:
    """Send ``msg`` once to every address of ``mail.to``.

    Returns:
        The recipients the server accepted (all of them).

    Raises:
        DeliveryError: naming ``host:port`` and the SMTP error; ``permanent`` when retrying
            cannot help. The password never appears in it.
    """
    host, port = mail.host, mail.smtp_port
    where = f"{host}:{port} ({mail.security})"
    try:
        smtp: smtplib.SMTP
        if mail.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                host, port, timeout=mail.timeout_seconds, context=_tls_context(mail)
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=mail.timeout_seconds)
        with smtp:
            if mail.security == "starttls":
                smtp.starttls(context=_tls_context(mail))
            if mail.user:
                _login(smtp, mail.user, password or "")
            refused = smtp.send_message(msg, from_addr=mail.sender, to_addrs=list(mail.to))
    except (smtplib.SMTPException, OSError) as err:
        detail = _scrub(f"{type(err).__name__}: {err}", password)
        raise DeliveryError(
            f"cannot e-mail the briefing through {where}: {detail}", _is_permanent(err)
        ) from None
    if refused:
        # the others have it already: do not retry (they would get it twice), say who did not
        listed = "; ".join(f"{addr} ({code} {text!r})" for addr, (code, text) in refused.items())
        raise DeliveryError(
            f"the server {where} refused some recipients: {_scrub(listed, password)}",
            permanent=True,
        )
    return list(mail.to)


def send_with_retries(
    msg: EmailMessage,
    mail: MailConfig,
    password: str | None,
    sleep: Callable[[float], Any] = time.sleep,
    log: Callable[[str], Any] | None = None,
) -> list[str]:
    """``send_message`` with retries after ``mail.retry_delays()`` (10 s, 20 s, 40 s).

    For use outside a Prefect flow; in a flow, ``email_task`` lets Prefect do the retries.

    Raises:
        DeliveryError: the last error, saying how many attempts were made.
    """
    delays = mail.retry_delays()
    for attempt in range(len(delays) + 1):
        try:
            return send_message(msg, mail, password)
        except DeliveryError as err:
            if err.permanent or attempt == len(delays):
                raise DeliveryError(
                    f"{err} (after {attempt + 1} attempt{'s' if attempt else ''})", err.permanent
                ) from None
            if log:
                log(f"attempt {attempt + 1} failed, retrying in {delays[attempt]:g} s: {err}")
            sleep(delays[attempt])
    raise AssertionError("unreachable")


def smtp_password(mail: MailConfig) -> str | None:
    """The SMTP password: ``TONGHOP_SMTP_PASSWORD`` (or the file), else the Prefect Secret
    block named in ``mail.password_secret``, else none."""
    if mail.password is not None:
        return mail.password.get_secret_value()
    if mail.password_secret:
        from prefect.blocks.system import Secret

        block = cast(Secret, Secret.load(mail.password_secret))  # sync here: we are not async
        return str(block.get())
    return None


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect's retry condition: retry unless the error is permanent."""
    err = state.data if isinstance(state.data, BaseException) else None
    if err is None:
        try:
            err = state.result(raise_on_failure=False)
        except Exception:
            return True
    return not getattr(err, "permanent", False)


# --- Prefect tasks -------------------------------------------------------------------------


@task(name="archive briefing", cache_policy=NO_CACHE)
def drop_task(briefing: Path, archive: Path, day: date, scope: str) -> Dropped:
    """Prefect wrapper of ``drop_file``."""
    dropped = drop_file(briefing, archive, day, scope)
    get_run_logger().info("archive: %s (%s)", dropped.path, dropped.status)
    return dropped


@task(
    name="e-mail briefing",
    cache_policy=NO_CACHE,
    retries=3,
    retry_delay_seconds=[10, 20, 40],
    retry_condition_fn=_transient,
)
def email_task(briefing: Path, mail: MailConfig, day: date, scope: str) -> list[str]:
    """Send the briefing to every recipient; Prefect retries a transient failure.

    Use ``email_task.with_options(retries=..., retry_delay_seconds=...)`` to follow the config
    (``distribute`` does).
    """
    missing = mail.missing_for_sending()
    if missing:
        raise DeliveryError("cannot e-mail the briefing: set " + ", ".join(missing), True)
    sent = send_message(build_message(briefing, mail, day, scope), mail, smtp_password(mail))
    get_run_logger().info(
        "e-mailed %s to %d recipients through %s:%d",
        briefing.name,
        len(sent),
        mail.host,
        mail.smtp_port,
    )
    return sent


def email_briefing(briefing: Path, mail: MailConfig, day: date, scope: str) -> list[str]:
    """``email_task`` with the retries of the config (``mail.retries``, doubling delays).

    Call it in a flow; it raises ``DeliveryError`` when the last retry fails.
    """
    configured = email_task.with_options(
        retries=mail.retries, retry_delay_seconds=mail.retry_delays()
    )
    return configured(briefing, mail, day, scope)


@dataclass(frozen=True)
class Distribution:
    """What the distribute stage did: the archived file and who was e-mailed."""

    archived: Dropped
    emailed: list[str] = field(default_factory=list)


def distribute(
    briefing: Path,
    archive: Path,
    scope: str,
    mail: MailConfig | None = None,
    day: date | None = None,
) -> Distribution:
    """The distribute stage, to call in a flow after render: archive, then e-mail if ``mail``.

    Args:
        briefing: the DOCX render wrote.
        archive: the archive folder (``config.paths.archive``).
        scope: the scope of the names (``scope_slug(...)``).
        mail: the ``[mail]`` config when the briefing is to be e-mailed, else None.
        day: the issue date; default today in Vietnam.

    Raises:
        DeliveryError: the e-mail could not be sent after the retries; the briefing and its
            archived copy stay where they are.
    """
    day = day or today_in()
    dropped = drop_task(briefing, archive, day, scope)
    emailed: list[str] = []
    if mail is not None:
        emailed = email_briefing(briefing, mail, day, scope)
    return Distribution(dropped, emailed)
