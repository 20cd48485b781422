"""A citizen in the web chat and a volunteer in the console, two real browser contexts on the real
services: ask for a person, claim, chat both ways, hand back; the bot is silent in between. And the
console under the gateway's content security policy, opening files a hostile citizen sent."""

import itertools

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect
from sqlalchemy import select

from bot.channels.web_session import COOKIE as CHAT_COOKIE
from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Message
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.console_media_files import FILES, telegram_settings, waiting_request_with_files
from tests.integration.replica import Replica

PASSWORD = "mật-khẩu-trình-duyệt"
_accounts = itertools.count()


def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(20_000)
    return context, page


def test_volunteer_takes_over_and_hands_back(browser, stack):
    username = f"lan-browser-{next(_accounts)}"
    with session_scope() as session:
        auth.create_account(session, username, "Lan", PASSWORD)
    volunteer_context, console = phone(browser)
    citizen_context, chat = phone(browser)
    try:
        console.goto(stack.gateway_url + "/console")
        console.fill("#username", username)
        console.fill("#password", PASSWORD)
        console.locator("#login-form button[type=submit]").click()
        toggle = console.locator("#online-toggle")
        expect(toggle).to_be_visible()
        if toggle.inner_text() != "Đang trực":
            toggle.click()
        expect(toggle).to_have_text("Đang trực")

        chat.goto(stack.gateway_url + "/")
        expect(chat.locator(".msg.bot").first).to_contain_text("trợ lý ảo")
        chat.fill("#text", "cho tôi gặp tình nguyện viên")
        chat.click("#composer button[type=submit]")
        expect(chat.locator(".msg.bot", has_text="em đã báo tình nguyện viên")).to_have_count(1)
        chat.fill("#text", "Em là Hoa, em cần hỏi về khai sinh cho con")
        chat.click("#composer button[type=submit]")
        [sender] = [c["value"] for c in citizen_context.cookies() if c["name"] == CHAT_COOKIE]  # server-issued

        request = console.locator("#queue li.queue-item", has_text="Em là Hoa")
        expect(request).to_have_count(1)  # arrived without a reload
        request.locator("button.claim").click()
        expect(chat.locator(".msg", has_text="Tình nguyện viên Lan đang hỗ trợ anh/chị")).to_have_count(1)

        console.fill("#reply-text", "Dạ chào chị Hoa, chị đang ở bước nào ạ?")
        console.locator("#reply-form button[type=submit]").click()
        expect(chat.locator(".msg.volunteer", has_text="chị đang ở bước nào")).to_have_count(1)
        chat.fill("#text", "Em chưa biết đăng nhập ở đâu")
        chat.click("#composer button[type=submit]")
        expect(console.locator("#chat-log .msg.citizen", has_text="Em chưa biết đăng nhập ở đâu")).to_have_count(1)

        console.select_option("#hand-back-step", "")
        console.click("#btn-hand-back")
        expect(chat.locator(".msg", has_text="Trợ lý ảo tiếp tục hỗ trợ anh/chị")).to_have_count(1)
        chat.fill("#text", "làm căn cước cần giấy tờ gì")
        chat.click("#composer button[type=submit]")
        expect(chat.locator(".msg.bot", has_text="căn cước").last).to_be_visible()

        with session_scope() as session:
            handoff = session.scalars(
                select(Handoff).join(Conversation).join(Citizen).where(Citizen.channel_user_id == sender)
            ).one()
            held = session.scalars(
                select(Message).where(
                    Message.conversation_id == handoff.conversation_id,
                    Message.created_at >= handoff.claimed_at,
                    Message.created_at <= handoff.ended_at,
                )
            ).all()
        assert handoff.status == "handed_back" and handoff.claimed_at is not None
        assert {m.author for m in held} >= {"citizen", "volunteer"}
        assert "bot" not in {m.author for m in held}, "the bot spoke while the volunteer held the conversation"
    finally:
        volunteer_context.close()
        citizen_context.close()


def _open_in_new_tab(context, url: str) -> bool:
    """Opens a link as a volunteer would; True when the browser downloaded it instead of showing it."""
    tab = context.new_page()
    try:
        tab.goto(url)  # returns after the load event: any inline script would have run by then
        return False
    except PlaywrightError as exc:
        if "Download is starting" not in str(exc):
            raise
        return True
    finally:
        tab.close()


def test_console_and_report_obey_the_page_policy_and_citizen_files_run_no_script(browser, stack):
    """Under the gateway's CSP the console and report pages work without a single violation, and a
    citizen's HTML or SVG file opened from the console is downloaded, never run."""
    with FakeTelegramAPI() as telegram, Replica(telegram_settings(telegram)) as gateway:
        _, urls = waiting_request_with_files(telegram)
        username = f"quan-browser-{next(_accounts)}"
        with session_scope() as session:
            auth.create_account(session, username, "Quân", PASSWORD, role="staff")
        context, console = phone(browser)
        problems: list[str] = []
        # Before login the page asks /me and gets the expected 401; anything else logged as an
        # error (a CSP violation such as "Refused to …", a script error) is a problem.
        console.on(
            "console",
            lambda m: (
                problems.append(f"{m.text} ({m.location.get('url')})")
                if m.type == "error" and "status of 401" not in m.text
                else None
            ),
        )
        console.on("pageerror", lambda error: problems.append(str(error)))
        try:
            console.goto(gateway.url + "/console")
            console.fill("#username", username)
            console.fill("#password", PASSWORD)
            console.locator("#login-form button[type=submit]").click()
            request = console.locator("#queue li.queue-item", has_text="red.webp")
            request.locator("button.claim").click()
            links = console.locator("#chat-log a.media-link")
            expect(links).to_have_count(len(FILES))
            hrefs = links.evaluate_all("links => links.map(a => a.getAttribute('href'))")
            assert sorted(hrefs) == sorted(urls.values())

            downloaded = {name: _open_in_new_tab(context, gateway.url + urls[name]) for name in ("x.html", "x.svg")}
            assert console.evaluate("localStorage.getItem('pwned')") is None, "a citizen's file ran script"
            assert downloaded == {"x.html": True, "x.svg": True}
            image = context.new_page()
            shown = image.goto(gateway.url + urls["png-named.html"])
            assert shown.headers["content-type"] == "image/png"
            assert image.evaluate("document.contentType") == "image/png"
            image.close()

            expect(console.locator("#report-link")).to_be_visible()
            console.locator("#report-link").click()
            expect(console.locator("h1")).to_contain_text("Báo cáo hoạt động")
            expect(console.locator("table")).to_contain_text("Quân")
            assert problems == []
        finally:
            context.close()
