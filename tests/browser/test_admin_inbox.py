"""Staff and volunteers in a real browser on the real stack: an unanswered question appears in the
inbox page and becomes a FAQ variant there, after which it is answered; a volunteer's reply is sent
from the console as a FAQ draft; canned replies published by staff reach an open console without
a reload."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.db import session_scope
from bot.storage.models import FaqDraft
from tests.admin.test_inbox import NEWBORN_SLUG as SLUG
from tests.admin.test_inbox import NEWBORN_VARIANT as QUESTION
from tests.admin.test_inbox import answered_with, ask
from tests.browser.admin_pages import log_in, new_account
from tests.integration.people import Console, WebCitizen


def test_an_unanswered_question_becomes_a_faq_variant_in_the_page_and_is_then_answered(page, stack, restores):
    base = stack.gateway_url
    assert ask(base, QUESTION)["outcome"] in ("clarify", "decline")
    staff = Console(base, "Hoa", role="staff", online=False)
    original = restores(SLUG)["entry"]
    log_in(page, f"{base}/admin#inbox", new_account("staff"))
    group = page.locator(".inbox-group", has_text=QUESTION)
    # the first listing loads the search index in the gateway, for the suggested procedures
    expect(group).to_have_count(1, timeout=60_000)
    group.get_by_role("button", name="Xem cuộc trò chuyện").first.click()
    expect(page.locator(".inbox-conversation")).to_contain_text(QUESTION)

    group.get_by_role("button", name="Thêm vào câu hỏi thường gặp").click()
    form = group.locator("form.inbox-form")
    form.get_by_label("Thủ tục").select_option(SLUG)
    faq = form.get_by_label("Câu hỏi thường gặp")
    expect(faq.locator("option")).to_have_count(len(original["faq"]))
    faq.select_option(original["faq"][0]["id"])
    expect(form.get_by_label("Câu hỏi", exact=True)).to_have_value(QUESTION)
    form.get_by_role("button", name="Lưu và áp dụng ngay").click()
    expect(page.locator(".inbox-group", has_text=QUESTION)).to_have_count(0)

    faq_questions = staff.http.get(f"/admin/api/entries/{SLUG}").json()["entry"]["faq"][0]["questions"]
    assert faq_questions[-1] == QUESTION
    answered_with(base, QUESTION, SLUG)


def test_a_volunteer_sends_a_reply_as_a_faq_draft_from_the_console(page, stack):
    citizen = WebCitizen(stack.gateway_url)
    citizen.ask_for_a_person()
    citizen.say("bà nội đi làm khai sinh cho cháu được không ạ")
    log_in(page, f"{stack.gateway_url}/console", new_account("volunteer"))
    page.locator("#queue li.queue-item", has_text="bà nội đi làm khai sinh").locator("button.claim").click()
    reply = "Dạ được ạ, ông bà đi thay bố mẹ được, mang theo văn bản ủy quyền."
    page.fill("#reply-text", reply)
    page.locator("#reply-form button[type=submit]").click()
    bubble = page.locator("#chat-log .msg.volunteer", has_text="ông bà đi thay")
    bubble.get_by_role("button", name="Gửi làm câu hỏi thường gặp").click()
    expect(page.locator("#faq-question")).to_have_value("bà nội đi làm khai sinh cho cháu được không ạ")
    expect(page.locator("#faq-answer")).to_have_value(reply)
    page.locator("#faq-draft-form button[type=submit]").click()
    expect(page.locator("#faq-draft-form")).to_be_hidden()
    with session_scope() as session:
        drafts = [answer for answer in session.scalars(select(FaqDraft.answer)) if answer == reply]  # stored encrypted
    assert drafts == [reply]


def test_canned_replies_published_by_staff_reach_an_open_console(page, stack, restores):
    staff = Console(stack.gateway_url, "Hoa", role="staff", online=False)
    original = restores("_canned")["entry"]
    log_in(page, f"{stack.gateway_url}/console", new_account("volunteer"))
    expect(page.locator("#online-toggle")).to_be_visible()
    title = f"Mẫu mới {uuid.uuid4().hex[:6]}"
    added = {"title": title, "text": "Dạ, em kiểm tra giúp anh/chị."}
    staff.publish("_canned", {"replies": [*original["replies"], added]})
    expect(page.locator("#canned option", has_text=title)).to_have_count(1)  # no reload
    staff.publish("_canned", original)
    expect(page.locator("#canned option", has_text=title)).to_have_count(0)
