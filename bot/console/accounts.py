"""`python -m bot volunteer …`: console accounts are created by an admin on the server."""
from __future__ import annotations

import argparse
import getpass
import sys

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import ConsoleSession, Volunteer


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
                auth.create_account(session, args.username, args.name, _password(), args.role, args.telegram_id)
                print(f"created {args.role} {args.username}")
                return 0
            volunteer = session.scalar(select(Volunteer).where(Volunteer.username == args.username.lower()))
            if volunteer is None:
                print(f"no account {args.username}", file=sys.stderr)
                return 1
            if args.command == "passwd":
                auth.set_password(volunteer, _password())
            else:
                volunteer.active = volunteer.online = False
            session.execute(delete(ConsoleSession).where(ConsoleSession.volunteer_id == volunteer.id))
            print(f"{args.command}: {volunteer.username} done; its sessions are closed")
            return 0
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except IntegrityError:
        print("error: that username or Telegram id is taken", file=sys.stderr)
        return 1
