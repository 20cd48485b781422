"""Command line: `python -m bot <group> <command>`. Each command lives with the code it drives."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot import logs
from bot.cli_errors import exit_code
from bot.settings import get_settings

SUPERVISING = ("run", "run-city")  # their lines go to var/log/supervisor.log; every other command's to cli.log


class OneLineParser(argparse.ArgumentParser):
    """A usage error in one line; `-h` shows the usage."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure(get_settings(), "supervisor" if args.group in SUPERVISING else "cli")
    return exit_code(lambda: run(args))


def parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bot")
    groups = parser.add_subparsers(dest="group", required=True)

    db = groups.add_parser("db", help="database").add_subparsers(dest="command", required=True)
    db.add_parser("upgrade", help="apply migrations")

    kb = groups.add_parser("kb", help="knowledge base").add_subparsers(dest="command", required=True)
    load = kb.add_parser("load", help="validate knowledge/ and upsert it into the database")
    load.add_argument(
        "directory",
        nargs="?",
        type=Path,
        help="a folder in the knowledge/ format (default: KNOWLEDGE_DIR with OFFICES_FILE and CANNED_REPLIES_FILE)",
    )
    kb.add_parser("export", help="write the database's knowledge to DIRECTORY in the knowledge/ format").add_argument(
        "directory", type=Path
    )
    search = kb.add_parser("search", help="search; one query per line on stdin")
    search.add_argument("--json", action="store_true", help="one JSON object per line")
    search.add_argument("-k", type=positive_int, default=3, help="results per query")
    kb.add_parser("model", help="train the embedding model into models/embedding and calibrate the search")
    kb.add_parser("calibrate", help="calibrate the search for the model EMBEDDING_MODEL names")

    nlu = groups.add_parser("nlu", help="Rasa project").add_subparsers(dest="command", required=True)
    nlu.add_parser("build", help="normalise nlu_data/ and generate lookups into build/rasa")
    nlu.add_parser("train", help="train the Rasa model when its inputs changed")

    volunteer = groups.add_parser("volunteer", help="console accounts").add_subparsers(dest="command", required=True)
    add = volunteer.add_parser("add", help="create an account; the password is read from stdin or asked")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="the name citizens see, e.g. Lan")
    add.add_argument("--role", choices=("volunteer", "staff", "admin"), default="volunteer")
    add.add_argument("--telegram-id", help="numeric Telegram user id, to claim from Telegram notifications")
    volunteer.add_parser("passwd", help="set a new password (stdin or asked)").add_argument("username")
    volunteer.add_parser("disable", help="lock an account and end its sessions").add_argument("username")
    volunteer.add_parser("list", help="list accounts")

    zalo = groups.add_parser("zalo", help="Zalo Official Account").add_subparsers(dest="command", required=True)
    zalo.add_parser(
        "authorize",
        help="store a new refresh token (read from stdin) and exchange it now; for when the token chain broke",
    )

    keys = groups.add_parser("keys", help="the data key records are encrypted with").add_subparsers(
        dest="command", required=True
    )
    keys.add_parser("rotate", help="re-encrypt every record with the current (first) key, in batches, while serving")
    keys.add_parser("new", help="print a new key, to put in front of DATA_KEY or var/data_key before a rotation")

    groups.add_parser("run", help="start Rasa, the action server and the gateway; Ctrl-C stops all")
    groups.add_parser(
        "run-city",
        help="the city layout on this machine: PostgreSQL, Redis, nginx, two gateways, "
        "two Rasa replicas and the action server; Ctrl-C stops all",
    )

    return parser


def run(args: argparse.Namespace) -> int:
    if args.group == "db":
        from bot.storage.db import upgrade

        print(upgrade())
        return 0
    if args.group == "kb" and args.command == "load":
        from bot.knowledge.loader import load_command

        return load_command(args.directory)
    if args.group == "kb" and args.command == "export":
        from bot.knowledge.loader import export_command

        return export_command(args.directory)
    if args.group == "kb" and args.command in ("model", "calibrate"):
        from bot.knowledge.model_command import calibrate_command, model_command

        return model_command() if args.command == "model" else calibrate_command()
    if args.group == "kb" and args.command == "search":
        from bot.knowledge.search import search_command

        return search_command(sys.stdin, sys.stdout, k=args.k, as_json=args.json)
    if args.group == "nlu":
        from bot import nlu_build

        return nlu_build.build() if args.command == "build" else nlu_build.train()
    if args.group == "volunteer":
        from bot.console.accounts import accounts_command

        return accounts_command(args)
    if args.group == "zalo":
        from bot.channels.zalo_api import authorize_command

        return authorize_command(sys.stdin.readline().strip())
    if args.group == "keys":
        from bot.keys import new_command, rotate_command

        return rotate_command() if args.command == "rotate" else new_command()
    if args.group == "run":
        from bot.supervisor import run_forever

        return run_forever()
    if args.group == "run-city":
        from bot.city import run_city

        return run_city()
    return 2


if __name__ == "__main__":
    sys.exit(main())
