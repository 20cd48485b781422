"""The web chat page in a real browser: greeting, question, answer, button click, the server-issued
conversation in an HttpOnly cookie, "Kết thúc trò chuyện", and a volunteer's messages acknowledged."""

import re

from playwright.sync_api import expect
from sqlalchemy import select

from bot.channels.web_session import COOKIE, WebSessions
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Message, Owner
from tests.integration.people import Console
from tests.waiting import wait_until


def test_ask_a_question_and_click_a_button(page, stack):
    page.goto(stack.gateway_url + "/")
    bot = page.locator(".msg.bot")
    expect(bot.first).to_contain_text("trợ lý ảo")  # greeted on the first visit

    page.fill("#text", "đăng ký khai sinh cần giấy tờ gì")
    page.click("#composer button[type=submit]")
    expect(bot.filter(has_text="Giấy chứng sinh")).to_have_count(1)

    page.locator(".buttons button", has_text="Lệ phí").last.click()
    expect(bot.filter(has_text=re.compile("lệ phí đăng ký khai sinh"))).to_have_count(1)
    expect(page.locator(".msg.citizen").last).to_have_text("Lệ phí")


def conversation_cookie(page) -> dict:
    [cookie] = [c for c in page.context.cookies() if c["name"] == COOKIE]
    return cookie


def test_the_conversation_is_issued_by_the_server_and_kept_in_an_http_only_cookie(page, stack):
    page.goto(stack.gateway_url + "/")
    expect(page.locator(".msg.bot").first).to_contain_text("trợ lý ảo")
    cookie = conversation_cookie(page)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/chat"
    assert WebSessions(get_settings()).is_issued(cookie["value"])
    stored = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage), document.cookie])"
    )
    assert cookie["value"] not in stored and "chat" not in stored  # nothing page script could leak

    page.reload()  # the same conversation continues: no second greeting, the same cookie
    page.fill("#text", "làm căn cước ở đâu")
    page.click("#composer button[type=submit]")
    expect(page.locator(".msg.bot", has_text="căn cước")).to_have_count(1)
    assert conversation_cookie(page)["value"] == cookie["value"]
    assert page.locator(".msg.citizen").all_text_contents() == ["làm căn cước ở đâu"]


def waiting_for_a_volunteer(page, stack) -> str:
    """A citizen on the page asks for a person; their conversation's id."""
    page.goto(stack.gateway_url + "/")
    expect(page.locator(".msg.bot").first).to_contain_text("trợ lý ảo")
    page.fill("#text", "cho tôi gặp người thật")
    page.click("#composer button[type=submit]")
    expect(page.locator("#waiting")).to_be_visible()
    return conversation_cookie(page)["value"]


def test_ending_the_conversation_starts_afresh(page, stack):
    before = waiting_for_a_volunteer(page, stack)

    page.click("#end-chat")
    expect(page.locator(".msg.citizen")).to_have_count(1)  # only the new greeting's "Xin chào"
    expect(page.locator(".msg.citizen")).to_have_text("Xin chào")
    expect(page.locator(".msg.bot").first).to_contain_text("trợ lý ảo")
    expect(page.locator("#waiting")).to_be_hidden()
    assert conversation_cookie(page)["value"] != before
    with session_scope() as session:
        owner, handoff = session.execute(
            select(Conversation.owner, Handoff.status)
            .join(Citizen)
            .join(Handoff, Handoff.conversation_id == Conversation.id)
            .where(Citizen.channel_user_id == before)
        ).one()
    assert owner == Owner.closed and handoff == "cancelled"


def test_page_uses_no_outside_assets(page, stack):
    outside = []
    page.on(
        "request",
        lambda request: outside.append(request.url) if not request.url.startswith(stack.gateway_url) else None,
    )
    page.goto(stack.gateway_url + "/")
    expect(page.locator(".msg.bot").first).to_be_visible()
    assert outside == []


def test_complete_a_guide_by_clicking_buttons_only(page, stack):
    page.goto(stack.gateway_url + "/")
    bot = page.locator(".msg.bot")
    expect(bot.first).to_contain_text("trợ lý ảo")

    def click(title: str) -> None:
        page.locator(".buttons button:not([disabled])", has_text=title).last.click()

    click("Khai sinh")
    expect(page.locator(".buttons button:not([disabled])", has_text="Hướng dẫn từng bước")).to_have_count(1)
    click("Hướng dẫn từng bước")
    click("Bắt đầu")
    for number in range(1, 7):
        expect(bot.filter(has_text=f"Bước {number}/6")).to_have_count(1)
        click("Xong")
    expect(bot.filter(has_text="Anh/chị đã nộp được chưa?")).to_have_count(1)
    click("Đã nộp")
    expect(bot.filter(has_text="chúc mừng")).to_have_count(1)


def test_a_lasting_line_while_waiting_for_a_volunteer_and_a_way_to_stop(page, stack):
    page.goto(stack.gateway_url + "/")
    expect(page.locator(".msg.bot").first).to_contain_text("trợ lý ảo")
    waiting = page.locator("#waiting")
    expect(waiting).to_be_hidden()

    page.fill("#text", "cho tôi gặp người thật")
    page.click("#composer button[type=submit]")
    expect(waiting).to_be_visible()
    expect(waiting).to_contain_text("Đang chờ tình nguyện viên")

    page.fill("#text", "còn đó không ạ")  # a later message keeps the line (the bot stays out of the way)
    page.click("#composer button[type=submit]")
    expect(page.locator(".msg.citizen").last).to_have_text("còn đó không ạ")
    expect(waiting).to_be_visible()

    page.click("#cancel-wait")
    expect(waiting).to_be_hidden()
    page.fill("#text", "làm hộ chiếu mất bao lâu")
    page.click("#composer button[type=submit]")
    expect(page.locator(".msg.bot", has_text="thời gian giải quyết")).to_have_count(1)
    expect(waiting).to_be_hidden()


def test_a_volunteers_message_is_shown_once_and_counts_as_sent_only_once_the_page_acknowledges_it(page, stack):
    sender = waiting_for_a_volunteer(page, stack)
    with session_scope() as session:
        handoff = session.scalar(
            select(Handoff.id).join(Conversation).join(Citizen).where(Citizen.channel_user_id == sender)
        )
    lan = Console(stack.gateway_url, "Lan")
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    volunteer = page.locator(".msg.volunteer")

    first = lan.send(handoff, "Dạ, chị Lan đây ạ.").json()["message"]["id"]
    expect(volunteer.filter(has_text="Dạ, chị Lan đây ạ.")).to_have_count(1)
    wait_for_status(first, "sent")

    page.route("**/api/chat/ack", lambda route: route.abort())  # the acknowledgement is lost: still pending
    # until the request has failed, not only been made: a route unrouted before its handler ran
    # would let the acknowledgement through
    with page.expect_event("requestfailed", lambda request: request.url.endswith("/api/chat/ack")):
        second = lan.send(handoff, "Anh/chị mở trang Dịch vụ công giúp chị nhé.").json()["message"]["id"]
        expect(volunteer.filter(has_text="Dịch vụ công")).to_have_count(1)
    assert message_status(second) == "pending"

    page.unroute("**/api/chat/ack")
    page.reload()  # a new connection: what was not acknowledged comes again, what was does not
    expect(volunteer.filter(has_text="Dịch vụ công")).to_have_count(1)
    wait_for_status(second, "sent")
    expect(volunteer.filter(has_text="Dạ, chị Lan đây ạ.")).to_have_count(0)


def message_status(message_id: int) -> str:
    with session_scope() as session:
        return session.get(Message, message_id).status


def wait_for_status(message_id: int, expected: str) -> None:
    wait_until(lambda: message_status(message_id) == expected, f"message {message_id} never {expected}")
