"""`python -m bot volunteer …`: console accounts managed by an operator on the server. Each change
goes through the same service as the admin page and writes its audit line with no actor (shown as
"dòng lệnh"). A password typed here is the account's own choice: no forced change follows."""

from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import select

from bot.admin import accounts as service
from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Volunteer


def _password() -> str:
    if sys.stdin.isatty():
        first, second = getpass.getpass("Password: "), getpass.getpass("Again: ")
        if first != second:
            raise ValueError("the passwords differ")
        return first
    return sys.stdin.readline().rstrip("\n")  # scripts pipe it in, so it never shows in `ps`


def accounts_command(args: argparse.Namespace) -> int:
    try:
        with session_scope() as session:
            if args.command == "list":
                for v in session.scalars(select(Volunteer).order_by(Volunteer.username)):
                    state = "active" if v.active else "disabled"
                    print(f"{v.username}\t{v.display_name}\t{v.role}\t{state}\ttelegram={v.telegram_user_id or '-'}")
                return 0
            if args.command == "add":
                service.create(
                    session,
                    None,
                    username=args.username,
                    display_name=args.name,
                    role=args.role,
                    telegram_user_id=args.telegram_id,
                    password_hash=auth.hash_password(_password()),
                    must_change_password=False,
                )
                print(f"created {args.role} {args.username}")
                return 0
            volunteer = service.by_username(session, args.username)
            if args.command == "passwd":
                service.set_password(session, None, volunteer, auth.hash_password(_password()), must_change=False)
            else:
                service.disable(session, None, volunteer)
            print(f"{args.command}: {volunteer.username} done; its sessions are closed")
            return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except service.AccountError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
