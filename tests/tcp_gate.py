"""A TCP port in front of a real server that the test opens and closes: while closed, connections
are refused (and open ones cut), as when the server is down; while open, bytes pass both ways."""

from __future__ import annotations

import socket
import threading

from tests.ports import free_port


class TcpGate:
    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.host, self.target_port, self.port = host, target_port, free_port()
        self.url = f"http://{host}:{self.port}"
        self._listener: socket.socket | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()

    def open(self) -> None:
        listener = socket.create_server((self.host, self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            ends = [*self._connections, *([self._listener] if self._listener else [])]
            self._connections.clear()
            self._listener = None
        for end in ends:  # shut down first: that wakes a thread blocked in accept() or recv()
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            try:
                server = socket.create_connection((self.host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                end.close()
            with self._lock:
                self._connections.difference_update((source, sink))
