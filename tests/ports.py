"""Free TCP ports on loopback, for servers the tests and benchmarks start."""
import socket


def free_port(consecutive: int = 1) -> int:
    """A free port (the first of `consecutive` free ones in a row, for Rasa's replicas)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            first = sock.getsockname()[1]
        if first + consecutive > 65535:
            continue
        taken = False
        for port in range(first + 1, first + consecutive):
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    taken = True
                    break
        if not taken:
            return first
