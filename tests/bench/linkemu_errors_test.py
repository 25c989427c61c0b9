#!/usr/bin/env python3
"""linkemu_errors_test.py LINKEMU: the relay's error and half-close paths, asserted.

1. the destination resets while the client is sending: the client sees a reset;
2. the client half-closes: the destination gets its bytes and EOF, and what it sends after
   that still reaches the client, then EOF (a FIN each way, each after the delay);
3. nothing listens at the destination: the accepted connection is reset;
and the relay's report on SIGTERM names each connection's bytes and end."""
import socket
import struct
import subprocess
import sys
import time


def expect_reset(c, what):
    c.settimeout(5)
    try:
        data = c.recv(10)
    except ConnectionResetError:
        return
    sys.exit(f"FAIL {what}: expected a reset, got {data!r}")


def main():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    srv.settimeout(5)
    dport = srv.getsockname()[1]
    p = subprocess.Popen([sys.argv[1], "--pair", f"0:{dport}", "--delay", "5ms"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lport = None
    for line in p.stdout:
        if "listening on 127.0.0.1:" in line:
            lport = int(line.split("127.0.0.1:")[1].split()[0])
        if line.startswith("linkemu: ready"):
            break
    assert lport, "linkemu did not report its port"

    c = socket.create_connection(("127.0.0.1", lport))
    s, _ = srv.accept()
    c.sendall(b"x" * 1000)
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    time.sleep(0.05)
    expect_reset(c, "destination reset")
    c.close()

    c = socket.create_connection(("127.0.0.1", lport))
    c.settimeout(5)
    s, _ = srv.accept()
    s.settimeout(5)
    t0 = time.monotonic()
    c.sendall(b"hello")
    c.shutdown(socket.SHUT_WR)
    got = b""
    while (d := s.recv(100)):
        got += d
    s.sendall(b"reply after eof")
    s.close()
    back = b""
    while (d := c.recv(100)):
        back += d
    dt = time.monotonic() - t0
    assert got == b"hello", f"FAIL half-close: the destination got {got!r}"
    assert back == b"reply after eof", f"FAIL half-close: the client got {back!r}"
    assert dt >= 0.010, f"FAIL half-close: the exchange took {dt * 1e3:.1f} ms, less than 2 x 5 ms"
    c.close()

    srv.close()
    c = socket.create_connection(("127.0.0.1", lport))
    expect_reset(c, "no destination")
    c.close()
    time.sleep(0.05)

    p.terminate()
    _, err = p.communicate(timeout=10)
    assert p.returncode == 0, f"FAIL linkemu exited {p.returncode} on SIGTERM"
    for want in ("fwd 1000 bytes, back 0 bytes", "reset",
                 "fwd 5 bytes, back 15 bytes", "closed",
                 "Connection refused", "total: 3 connections, fwd 1005 bytes, back 15 bytes"):
        assert want in err, f"FAIL the report lacks {want!r}:\n{err}"
    print("linkemu errors: reset, half-close, refused destination and the report: ok")


main()
