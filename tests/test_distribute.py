"""Distribute: archive names and folder drop, and e-mail through a real SMTP server (aiosmtpd)
on loopback: plain, STARTTLS with login, implicit TLS, transient and permanent failures, and
the Prefect task's retries inside a flow."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tasks.distribute import (
    DeliveryError,
    build_message,
    drop_file,
    scope_of,
    scope_slug,
    send_message,
    send_with_retries,
    slugify,
    today_in,
)
from tonghop.config import MailConfig

DAY = dt.date(2025, 1, 1)
PASSWORD = "Mật-khẩu-42!"
RECIPIENTS = ("phongtm@bchqs.example.vn", "vanthu@bchqs.example.vn", "chtruong@qk4.example.vn")


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Thanh Hóa", "thanh-hoa"),
        ("Đắk Lắk", "dak-lak"),  # đ is a letter of its own, not d + a mark
        ("Bà Rịa – Vũng Tàu", "ba-ria-vung-tau"),  # en dash and spaces collapse
        ("TP. Hồ Chí Minh", "tp-ho-chi-minh"),
        ("Thừa Thiên Huế", "thua-thien-hue"),
        ("", ""),
    ],
)
def test_slugify_vietnamese_names(text: str, slug: str) -> None:
    assert slugify(text) == slug


@pytest.mark.parametrize(
    ("provinces", "years", "name", "scope"),
    [
        (["Thanh Hóa", "Nghệ An"], [2024, 2023], "", "nghe-an-thanh-hoa-2023-2024"),
        (["Nghệ An", "Nghệ An"], [2024], "", "nghe-an-2024"),
        # more than three provinces: their count
        (["Hà Nội", "Huế", "Nghệ An", "Thanh Hóa"], [2024], "", "4-dia-phuong-2024"),
        # nothing known: still a name
        ([], [], "", "tong-hop"),
        (["Nghệ An"], [2024], "quan-khu-4", "quan-khu-4"),
    ],
)
def test_scope_slug(provinces: list[str], years: list[int], name: str, scope: str) -> None:
    assert scope_slug(provinces, years, name) == scope


def test_scope_of_a_documents_frame() -> None:
    import pandas as pd

    docs = pd.DataFrame(
        {"province": ["Nghệ An", None, "Hà Tĩnh"], "year": pd.array([2024, 2023, None], "Int64")}
    )
    assert scope_of(docs) == "ha-tinh-nghe-an-2023-2024"
    assert scope_of(docs, "quan-khu-4") == "quan-khu-4"
    assert scope_of(docs.iloc[0:0]) == "tong-hop"


def test_today_is_vietnam_date() -> None:
    # 23:30 UTC on 31 December is already 1 January in Vietnam (UTC+7)
    utc = dt.datetime(2024, 12, 31, 23, 30, tzinfo=dt.UTC)
    assert today_in("Asia/Ho_Chi_Minh", utc) == dt.date(2025, 1, 1)
    assert today_in("UTC", utc) == dt.date(2024, 12, 31)


# --- folder drop ---------------------------------------------------------------------------


def test_drop_is_dated_and_keeps_the_archive(tmp_path: Path) -> None:
    built = tmp_path / "out" / "briefing.docx"
    built.parent.mkdir()
    archive = tmp_path / "archive"
    built.write_bytes(b"version 1")
    first = drop_file(built, archive, DAY, "nghe-an-2024")
    assert first.status == "new"
    assert first.path == archive / "briefing-2025-01-01-nghe-an-2024.docx"
    assert first.path.read_bytes() == b"version 1"
    mtime = first.path.stat().st_mtime_ns

    # the same bytes again the same day: nothing written
    again = drop_file(built, archive, DAY, "nghe-an-2024")
    assert again.path == first.path and again.status == "unchanged"
    assert first.path.stat().st_mtime_ns == mtime

    # other bytes the same day: kept beside, the first untouched
    built.write_bytes(b"version 2")
    second = drop_file(built, archive, DAY, "nghe-an-2024")
    assert second.status == "revision"
    assert second.path.name == "briefing-2025-01-01-nghe-an-2024-2.docx"
    assert first.path.read_bytes() == b"version 1"
    # the second version again: recognised as -2, not a third copy
    assert drop_file(built, archive, DAY, "nghe-an-2024").status == "unchanged"

    # another day: a new name
    third = drop_file(built, archive, DAY + dt.timedelta(days=31), "nghe-an-2024")
    assert third.path.name == "briefing-2025-02-01-nghe-an-2024.docx"
    # no temporary file is left behind, and the built briefing is still there
    assert sorted(p.name for p in archive.iterdir()) == [
        "briefing-2025-01-01-nghe-an-2024-2.docx",
        "briefing-2025-01-01-nghe-an-2024.docx",
        "briefing-2025-02-01-nghe-an-2024.docx",
    ]
    assert built.read_bytes() == b"version 2"
    assert oct(first.path.stat().st_mode & 0o777) == "0o644"


def test_concurrent_drops_never_overwrite(tmp_path: Path) -> None:
    # eight runs drop eight different briefings at the same moment: eight files, none lost
    archive = tmp_path / "archive"
    sources = []
    for i in range(8):
        path = tmp_path / f"b{i}.docx"
        path.write_bytes(f"briefing {i}".encode() * 10_000)
        sources.append(path)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda p=p: results.append(drop_file(p, archive, DAY, "x")))
        for p in sources
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    contents = {p.read_bytes() for p in archive.iterdir()}
    assert contents == {p.read_bytes() for p in sources}
    assert len({r.path for r in results}) == 8


# --- a real SMTP server --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it receives; it can refuse the first N messages
    (451, temporary) or an address (550, permanent)."""

    refuse_first: int = 0
    refuse_address: str = ""
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    attempts: int = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address == self.refuse_address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.attempts += 1
        if self.attempts <= self.refuse_first:
            return "451 4.3.0 try again later"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, its own authority, made for this test."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tonghop test SMTP")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"tonghop"
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Recorder, int]]:
    recorder = Recorder()
    port = _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield recorder, port
    finally:
        controller.stop()


@pytest.fixture
def briefing(tmp_path: Path) -> Path:
    # a real DOCX written by python-docx, with Vietnamese text
    from docx import Document

    doc = Document()
    doc.add_paragraph("BÁO CÁO tổng hợp công tác quốc phòng, quân sự địa phương năm 2024")
    path = tmp_path / "out" / "briefing.docx"
    path.parent.mkdir()
    doc.save(str(path))
    return path


def _mail(port: int, **kwargs: Any) -> MailConfig:
    values: dict[str, Any] = {
        "to": RECIPIENTS,
        "from": "tonghop@bchqs.example.vn",
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "retries": 2,
        "retry_delay_seconds": 0.05,
        "timeout_seconds": 5,
    }
    values.update(kwargs)
    return MailConfig.model_validate(values)


def _attachment(raw: bytes) -> tuple[EmailMessage, str, bytes]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    parts = list(msg.iter_attachments())
    assert len(parts) == 1
    part = parts[0]
    payload = part.get_content()
    assert isinstance(payload, bytes)
    return msg, str(part.get_filename()), payload


def test_message_reaches_every_recipient_with_the_same_bytes(
    smtp_server: tuple[Recorder, int], briefing: Path
) -> None:
    recorder, port = smtp_server
    mail = _mail(port)
    msg = build_message(briefing, mail, DAY, "nghe-an-2024")
    assert send_message(msg, mail, None) == list(RECIPIENTS)
    assert len(recorder.received) == 1
    sender, rcpts, raw = recorder.received[0]
    assert sender == "tonghop@bchqs.example.vn"
    assert sorted(rcpts) == sorted(RECIPIENTS)
    received, filename, payload = _attachment(raw)
    assert payload == briefing.read_bytes()
    assert filename == "briefing-2025-01-01-nghe-an-2024.docx"
    assert received["Subject"].endswith("(01/01/2025)")
    assert "Báo cáo tổng hợp" in received["Subject"]  # Vietnamese subject survives encoding
    assert set(a.strip() for a in received["To"].split(",")) == set(RECIPIENTS)
    assert briefing.is_file()


def test_starttls_with_login(tmp_path: Path, briefing: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    recorder, port = Recorder(), _free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_ctx,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    )
    controller.start()
    try:
        mail = _mail(port, security="starttls", user="tonghop", ca_file=cert, retries=0)
        msg = build_message(briefing, mail, DAY, "x")
        send_message(msg, mail, PASSWORD)
        assert _attachment(recorder.received[0][2])[2] == briefing.read_bytes()

        # a wrong password is refused (535): permanent, and the password is not in the error
        with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{port}.*535") as info:
            send_with_retries(
                msg,
                _mail(port, security="starttls", user="tonghop", ca_file=cert),
                "wrong-" + PASSWORD,
            )
        assert info.value.permanent and "(after 1 attempt)" in str(info.value)
        assert PASSWORD not in str(info.value)

        # without the authority's certificate the server is not trusted: no retry either
        with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED") as info:
            send_message(msg, _mail(port, security="starttls", user="tonghop"), PASSWORD)
        assert info.value.permanent
    finally:
        controller.stop()
    assert len(recorder.received) == 1


def test_implicit_tls(tmp_path: Path, briefing: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    recorder, port = Recorder(), _free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ssl_context=server_ctx)
    controller.start()
    try:
        mail = _mail(port, security="ssl", ca_file=cert)
        send_message(build_message(briefing, mail, DAY, "x"), mail, None)
    finally:
        controller.stop()
    assert _attachment(recorder.received[0][2])[2] == briefing.read_bytes()


def test_transient_refusals_are_retried_with_backoff(
    smtp_server: tuple[Recorder, int], briefing: Path
) -> None:
    recorder, port = smtp_server
    recorder.refuse_first = 2  # 451 twice, then accepted
    mail = _mail(port, retries=3, retry_delay_seconds=0.05)
    slept: list[float] = []
    sent = send_with_retries(
        build_message(briefing, mail, DAY, "x"), mail, None, sleep=slept.append
    )
    assert sent == list(RECIPIENTS)
    assert recorder.attempts == 3
    assert slept == [0.05, 0.1]  # doubling
    assert len(recorder.received) == 1


def test_refused_recipient_is_permanent_and_named(
    smtp_server: tuple[Recorder, int], briefing: Path
) -> None:
    recorder, port = smtp_server
    recorder.refuse_address = RECIPIENTS[1]
    mail = _mail(port)
    with pytest.raises(DeliveryError, match=rf"{RECIPIENTS[1]} \(550") as info:
        send_with_retries(build_message(briefing, mail, DAY, "x"), mail, None, sleep=time.sleep)
    # the others received it once: no retry that would send it to them twice
    assert info.value.permanent
    assert recorder.attempts == 1
    assert sorted(recorder.received[0][1]) == sorted(set(RECIPIENTS) - {RECIPIENTS[1]})


def test_closed_port_retries_then_fails_clearly(briefing: Path) -> None:
    port = _free_port()  # nothing listens there
    mail = _mail(port, retries=2, retry_delay_seconds=0.05, user="tonghop")
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        send_with_retries(build_message(briefing, mail, DAY, "x"), mail, PASSWORD)
    elapsed = time.monotonic() - started
    text = str(info.value)
    assert f"127.0.0.1:{port}" in text
    assert "Connection refused" in text or "ConnectionRefusedError" in text
    assert "(after 3 attempts)" in text
    assert not info.value.permanent
    assert PASSWORD not in text
    assert elapsed >= 0.15  # 0.05 + 0.1 of backoff
    assert briefing.is_file()


# --- in a flow: Prefect retries, the archive and the briefing stay --------------------------


def test_distribute_in_a_flow_retries_then_fails_and_keeps_the_briefing(
    prefect_harness, briefing: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    from tasks.distribute import distribute

    port = _free_port()
    mail = _mail(port, retries=2, retry_delay_seconds=0.1, user="tonghop", password=PASSWORD)
    archive = tmp_path / "archive"

    @flow(name="distribute-test")
    def run() -> None:
        distribute(briefing, archive, "nghe-an-2024", mail, DAY)

    state = run(return_state=True)
    assert state.is_failed()
    with pytest.raises(DeliveryError, match=rf"127\.0\.0\.1:{port}"):
        state.result()
    # the briefing and its archived copy are still there
    assert briefing.is_file()
    assert (archive / "briefing-2025-01-01-nghe-an-2024.docx").read_bytes() == briefing.read_bytes()
    # Prefect ran the e-mail task three times (two retries)

    async def task_runs() -> list[Any]:
        async with get_client() as client:
            return await client.read_task_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
                ),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=50,
            )

    email_run = next(r for r in asyncio.run(task_runs()) if r.name.startswith("e-mail briefing"))
    assert email_run.run_count == 3
    assert PASSWORD not in caplog.text


def test_distribute_in_a_flow_sends(
    prefect_harness, smtp_server: tuple[Recorder, int], briefing: Path, tmp_path: Path
) -> None:
    from prefect import flow

    from tasks.distribute import distribute

    recorder, port = smtp_server
    mail = _mail(port)

    @flow(name="distribute-test")
    def run() -> Any:
        return distribute(briefing, tmp_path / "archive", "nghe-an-2024", mail, DAY)

    result = run()
    assert result.emailed == list(RECIPIENTS)
    assert result.archived.status == "new"
    assert _attachment(recorder.received[0][2])[2] == briefing.read_bytes()


def test_password_from_a_prefect_secret_block(prefect_harness) -> None:
    from prefect.blocks.system import Secret

    from tasks.distribute import smtp_password

    Secret(value=PASSWORD).save("tonghop-smtp-test", overwrite=True)
    mail = MailConfig.model_validate({"password_secret": "tonghop-smtp-test"})
    assert smtp_password(mail) == PASSWORD
    assert smtp_password(MailConfig()) is None
    assert os.environ.get("TONGHOP_SMTP_PASSWORD") is None
