"""Accounts in a real browser under the gateway's content security policy: an admin adds an account
in the page, its owner logs in with the temporary password shown there and is made to change it
before anything else, and the audit page lists the account's creation."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect
from sqlalchemy import select

from bot.storage.db import session_scope
from bot.storage.models import Volunteer
from tests.browser.admin_pages import log_in, new_account

NEW_PASSWORD = "mật-khẩu-tự-chọn-2026"


def test_an_account_added_in_the_page_must_change_its_temporary_password(page, browser, stack):
    log_in(page, f"{stack.gateway_url}/admin#accounts", new_account("admin", "Khánh"))
    accounts = page.locator("#tab-accounts")
    expect(accounts.locator("article.account").first).to_be_visible()

    username = f"can-bo-{uuid.uuid4().hex[:8]}"
    page.fill("#new-account-username", username)
    page.fill("#new-account-name", "Thu")
    page.select_option("#new-account-role", "staff")
    accounts.locator("form.account-form button[type=submit]").click()
    shown = accounts.locator(".temporary-password")
    expect(shown).to_be_visible()
    temporary = shown.inner_text().strip()
    expect(accounts.locator(f"article.account[data-username='{username}']")).to_contain_text("Chờ đổi mật khẩu")

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    try:
        newcomer = context.new_page()
        newcomer.set_default_timeout(20_000)
        log_in(newcomer, f"{stack.gateway_url}/admin#knowledge", username, temporary)
        form = newcomer.locator("#tab-password form.password-form")
        expect(form).to_be_visible()  # the change form, not the tab asked for
        expect(newcomer.locator("#tab-knowledge")).to_be_hidden()
        newcomer.fill("#current-password", temporary)
        newcomer.fill("#new-password", NEW_PASSWORD)
        newcomer.fill("#repeat-password", NEW_PASSWORD + "x")
        form.locator("button[type=submit]").click()
        expect(form.locator(".error")).to_contain_text("không giống")
        newcomer.fill("#repeat-password", NEW_PASSWORD)
        form.locator("button[type=submit]").click()
        # on to the staff's usual page, reloaded as an account with nothing pending
        expect(newcomer.locator("#tabs a.active")).to_have_attribute("data-tab", "knowledge")
        expect(newcomer.locator("#tab-password")).to_be_hidden()
        assert newcomer.url.endswith("/admin")
        assert newcomer.evaluate("window.cspViolations") == []
    finally:
        context.close()
    with session_scope() as session:
        assert session.scalar(select(Volunteer.must_change_password).where(Volunteer.username == username)) is False

    page.locator("#tabs a[data-tab=audit]").click()
    created = page.locator("#tab-audit tr[data-action='account.create']", has_text=username)
    expect(created).to_have_count(1)
    expect(created).to_contain_text("Khánh")
    expect(page.locator("#tab-audit tr[data-action='account.password_changed']", has_text=username)).to_have_count(1)
    assert page.evaluate("window.cspViolations") == []
