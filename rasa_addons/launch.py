"""`rasa` with its API token taken from the environment, never from the command line.

    .venv-rasa/bin/python -m rasa_addons.launch run --enable-api -p 5005 …

The token is appended in-process as `--auth-token=<token>`: the `=` form is read as the option's
value even when the token starts with `-` (one random token in 64 does), and the process's
command line (`ps`, /proc/<pid>/cmdline) never shows it.
"""

from __future__ import annotations

import logging
import os
import sys


def main() -> None:
    token = os.environ.get("RASA_TOKEN", "")
    if not token:
        sys.exit("error: RASA_TOKEN is not set (the supervisor sets it)")
    sys.argv = ["rasa", *sys.argv[1:], f"--auth-token={token}"]
    # Rasa gives its own lines time, level and logger; the warnings its imports print get them too
    logging.basicConfig(format="%(asctime)s %(levelname)-8s %(name)s  - %(message)s")
    logging.captureWarnings(True)
    from rasa.__main__ import main as rasa_main

    from rasa_addons import lean_load

    lean_load.install()

    rasa_main()


if __name__ == "__main__":
    main()
