"""The case view in a real browser: Debian's headless Chromium driven by Selenium through chromium-driver (no browser
download). Signs in, opens the list, searches by a full-width case number, opens a case that crossed three
agencies and a case whose agreement went to a court, checks what a clerk sees, and saves screenshots under
var/screenshots (git-ignored)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
import uvicorn

from casehub.domain.rules import CaseRules
from casehub.ground.access import Access, Role
from casehub.ground.publish import MemoryPublisher
from casehub.ground.settings import PROJECT_ROOT
from casehub.ground.topics import Topics
from casehub.run.broker import free_port
from casehub.schemas.codec import AvroCodec
from casehub.schemas.registry.memory import MemoryRegistry
from casehub.sinks.case_view import add_answer, create_engine, upsert_cases
from casehub.sinks.confirmation_relay import delivery
from casehub.sinks.view_tables import case_refs, case_stages, confirmation_deliveries, confirmation_requests
from casehub.streams.linker import Linker
from tests.support.samples import messages, sample_events
from tests.support.view import REF, agreement_case

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver")
needs_chromium = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and DRIVER) and not os.environ.get("CI"),
    reason="no chromium and chromium-driver (Debian packages; .ci/run installs them)",
)
SHOTS = PROJECT_ROOT / "var" / "screenshots"
T = Topics("browser.")
NOW = dt.datetime(2026, 11, 25, 2, tzinfo=dt.UTC)
FULL_WIDTH = str.maketrans("0123456789〔〕()", "０１２３４５６７８９［］（）")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The web app over a view filled from 60 sample cases and one confirmed agreement, served on loopback."""
    folder = tmp_path_factory.mktemp("browser")
    codec = AvroCodec(MemoryRegistry(), prefix=T.prefix)
    events, _ = sample_events(folder / "sample", 60, seed=11)
    out = Linker(codec, T, CaseRules(), lambda: NOW).step(messages(codec, T, events))
    records = [codec.decode(v) for t, _, v in out.messages if t == T.cases]
    engine = create_engine(f"sqlite:///{folder / 'view.db'}")
    confirmed = agreement_case(9)
    with engine.begin() as conn:
        upsert_cases(conn, records)
        upsert_cases(conn, [confirmed], REF)
        rid = conn.execute(sa.select(confirmation_requests.c.request_id)).scalar_one()
        conn.execute(confirmation_requests.update().values(state="DELIVERED", attempts=2, delivered_at=NOW))
        conn.execute(
            confirmation_deliveries.insert(),
            [
                {**delivery(1, NOW, "HTTP_503", 503, "court system busy"), "request_id": rid},
                {**delivery(2, NOW, "DELIVERED", 201, "辽0102-receipt"), "request_id": rid},
            ],
        )
        for outcome, number in (("RECEIVED", None), ("ACCEPTED", "（2026）辽0102民特8号"), ("RULED_VALID", None)):
            add_answer(conn, {"request_id": rid, "outcome": outcome, "court_case_number": number, "decided_at": NOW})
        crossing = (
            conn.execute(
                sa.select(case_stages.c.case_id)
                .group_by(case_stages.c.case_id)
                .having(sa.func.count(sa.distinct(case_stages.c.agency_kind)) >= 3)
                .order_by(case_stages.c.case_id)
            )
            .scalars()
            .first()
        )
        number = (
            conn.execute(
                sa.select(case_refs.c.number).where(case_refs.c.case_id == crossing, case_refs.c.kind == "MEDIATION")
            )
            .scalars()
            .first()
        )
    assert crossing and number, "the sample has a case that crossed three agencies, with a mediation number"
    app = build_app(engine)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "crossing": crossing, "number": number, "confirmed": confirmed}
    server.should_exit = True
    thread.join(30)
    engine.dispose()


def build_app(engine):
    from casehub.sinks.web import build_app as app

    access = Access({"op-token": Role("operator"), "viewer-token": Role("viewer")}, {})
    return app(engine, access, MemoryPublisher(), AvroCodec(MemoryRegistry(), prefix=T.prefix), T, lambda: NOW)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="casehub-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
        "--lang=zh-CN",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.body.scrollHeight")
    driver.set_window_size(1400, min(max(height + 40, 800), 6000))
    path = SHOTS / name
    driver.save_screenshot(str(path))
    return path


@needs_chromium
def test_a_clerk_finds_a_case_by_a_full_width_number_and_reads_its_journey(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(site["url"] + "/cases/" + site["crossing"])
    assert "请登录" in browser.page_source  # no token, no page
    browser.get(site["url"] + "/signin?token=viewer-token")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("案件列表")
    rows = browser.find_elements(By.CSS_SELECTOR, "#cases tr")
    assert len(rows) > 10
    shot(browser, "case-list.png")

    typed = site["number"].translate(FULL_WIDTH)  # as a clerk types it: full-width digits, other brackets
    assert typed != site["number"]
    box = browser.find_element(By.NAME, "q")
    box.send_keys(typed)
    box.submit()
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "case-title"))
    title = browser.find_element(By.ID, "case-title").text
    assert site["crossing"] in title
    badges = {b.text for b in browser.find_elements(By.CSS_SELECTOR, "#stages .badge")}
    assert len(badges) >= 3 and badges <= {"调解", "仲裁", "法院", "监察"}
    lanes = browser.find_elements(By.CSS_SELECTOR, "#picture svg rect[rx]")
    assert len(lanes) >= 3  # one bar per stage in the picture
    assert browser.find_elements(By.CSS_SELECTOR, "#deadlines td.MET, #deadlines td.MISSED, #deadlines td.RUNNING")
    assert browser.find_elements(By.CSS_SELECTOR, "#links tr")[1:], "links and why they were made"
    assert "_hash" not in browser.page_source
    path = shot(browser, "case-three-agencies.png")
    assert path.stat().st_size > 20_000


@needs_chromium
def test_the_confirmation_request_its_delivery_and_the_courts_answers_show(site, browser):
    from selenium.webdriver.common.by import By

    browser.get(site["url"] + "/signin?token=op-token")
    browser.get(site["url"] + "/cases/" + site["confirmed"]["case_id"])
    requests = browser.find_element(By.ID, "requests").text
    assert "沈阳市和平区人民法院" in requests and "已送达" in requests
    assert "#1 HTTP_503" in requests and "#2 DELIVERED" in requests
    assert "裁定协议有效" in requests and "（2026）辽0102民特8号" in requests
    assert "已生成司法确认申请" in browser.find_element(By.ID, "agreements").text
    assert browser.find_elements(By.ID, "split-form")  # operators correct links here
    shot(browser, "case-confirmation.png")
