"""Loopback ports for servers the tests start: 30000–32767 only, since this machine's client
(ephemeral) ports start at 32768 and a server there can collide with an outgoing connection."""
from __future__ import annotations

import random
import socket

FIRST, LAST = 30000, 32767


def loopback_port() -> int:
    """A port in FIRST–LAST that nothing on 127.0.0.1 holds right now."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randint(FIRST, LAST)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {FIRST}–{LAST}")
