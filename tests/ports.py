"""Free TCP ports on loopback, for servers the tests and benchmarks start.

Ports come from below the kernel's ephemeral range. A port taken from that range (`bind(0)`) can
be grabbed as the source port of an outgoing connection before the server that was meant to use
it binds it (Rasa takes ~15 s to start), and a client polling a not-yet-listening server in that
range can even connect to itself; either way the server then fails with "address in use".
"""

import random
import socket
from pathlib import Path

LOWEST = 10_000
_handed_out: set[int] = set()  # never give the same port twice in one process


def _ephemeral_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(consecutive: int = 1) -> int:
    """A free port (the first of `consecutive` free ones in a row, for Rasa's replicas)."""
    highest = _ephemeral_start() - consecutive
    for _ in range(10_000):
        first = random.randint(LOWEST, highest)
        ports = range(first, first + consecutive)
        if _handed_out.isdisjoint(ports) and all(_bindable(port) for port in ports):
            _handed_out.update(ports)
            return first
    raise RuntimeError("no free port below the ephemeral range")
