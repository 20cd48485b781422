"""A citizen in the web chat and a volunteer in the console, two real browser contexts on the real
services: ask for a person, claim, chat both ways, hand back; the bot is silent in between."""
import itertools

from playwright.sync_api import expect
from sqlalchemy import select

from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Message

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
        sender = chat.evaluate("localStorage.getItem('chat.sender_id')")

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
            handoff = session.scalars(select(Handoff).join(Conversation).join(Citizen)
                                      .where(Citizen.channel_user_id == sender)).one()
            held = session.scalars(select(Message).where(
                Message.conversation_id == handoff.conversation_id, Message.created_at >= handoff.claimed_at,
                Message.created_at <= handoff.ended_at)).all()
        assert handoff.status == "handed_back" and handoff.claimed_at is not None
        assert {m.author for m in held} >= {"citizen", "volunteer"}
        assert "bot" not in {m.author for m in held}, "the bot spoke while the volunteer held the conversation"
    finally:
        volunteer_context.close()
        citizen_context.close()
