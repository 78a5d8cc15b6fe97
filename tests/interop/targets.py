#!/usr/bin/env python3
"""tests/interop/targets.py: the real endpoints exit traffic reaches in the interop tests, all on
127.0.0.1: an HTTP file server, a DNS server answering a fixed zone over UDP, and a SOCKS5 client for
the C tor client's SocksPort. Each server runs in a thread of the test process and stops with it.
"""
import hashlib
import http.server
import os
import socket
import socketserver
import struct
import threading
import time


# ---- HTTP ----------------------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 delays bursts of streams by seconds


class HttpServer:
    """Serves the files of `root` on 127.0.0.1 (an ephemeral port)."""

    def __init__(self, root):
        handler = lambda *a, **kw: _QuietHandler(*a, directory=root, **kw)  # noqa: E731
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *a: None  # clients that go away mid-file are expected
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def make_file(path, size):
    """Writes `size` random bytes to `path`; returns their sha256 (hex)."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 1 << 20))
            h.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return h.hexdigest()


# ---- DNS -----------------------------------------------------------------------------------------

def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


class DnsServer:
    """A UDP DNS server for a fixed zone: {"name": "1.2.3.4"} answers A (a list of addresses: one
    A record each), {"4.3.2.1.in-addr.arpa": "host.example"} answers PTR; anything else is
    NXDOMAIN. Counts the queries it answered. Names at or under a `silent` suffix are never
    answered (their queries are counted), so a resolver's lookups of them stay in flight until it
    gives up."""

    def __init__(self, zone, ttl=300, silent=()):
        self.zone = {k.lower().rstrip("."): v for k, v in zone.items()}
        self.silent = tuple("." + z.lower().strip(".") for z in silent)
        self.ttl = ttl
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join(timeout=5)
        self.sock.close()

    def _serve(self):
        while self.running:
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            try:
                reply = self._answer(data)
            except (IndexError, struct.error, UnicodeDecodeError):
                continue
            if reply is not None:
                self.sock.sendto(reply, peer)

    def _answer(self, q):
        qid, flags, qd = struct.unpack(">HHH", q[:6])
        pos, labels = 12, []
        while q[pos]:
            labels.append(q[pos + 1:pos + 1 + q[pos]].decode())
            pos += 1 + q[pos]
        qname = ".".join(labels).lower()
        qtype, qclass = struct.unpack(">HH", q[pos + 1:pos + 5])
        question = q[12:pos + 5]
        self.queries.append((qname, qtype))
        if self.silent and ("." + qname).endswith(self.silent):
            return None
        value = self.zone.get(qname)
        records = []
        rcode = 0
        if value is None:
            rcode = 3  # NXDOMAIN
        elif qtype == 1 and not qname.endswith(".arpa"):
            records = [b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, self.ttl, 4) + socket.inet_aton(v)
                       for v in (value if isinstance(value, list) else [value])]
        elif qtype == 12 and qname.endswith(".arpa"):
            rdata = _encode_name(value)
            records = [b"\xc0\x0c" + struct.pack(">HHIH", 12, 1, self.ttl, len(rdata)) + rdata]
        header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(records), 0, 0)
        return header + question + b"".join(records)


# ---- SOCKS5 --------------------------------------------------------------------------------------

class SocksError(Exception):
    def __init__(self, code):
        super().__init__(f"SOCKS5 reply {code}")
        self.code = code


def socks_connect(socks_port, host, port, timeout=60, username=None):
    """Opens a stream through the client's SocksPort; raises SocksError with the reply code (2 is
    "not allowed by ruleset", what Tor answers when the exit's policy refused the stream)."""
    s = socket.create_connection(("127.0.0.1", socks_port), timeout=timeout)
    try:
        if username:
            s.sendall(b"\x05\x01\x02")
            if s.recv(2) != b"\x05\x02":
                raise SocksError(-1)
            u = username.encode()
            s.sendall(b"\x01" + bytes([len(u)]) + u + b"\x01x")
            if _recv_exact(s, 2)[1] != 0:
                raise SocksError(-1)
        else:
            s.sendall(b"\x05\x01\x00")
            if _recv_exact(s, 2) != b"\x05\x00":
                raise SocksError(-1)
        try:
            addr = b"\x01" + socket.inet_aton(host)
        except OSError:
            addr = b"\x03" + bytes([len(host)]) + host.encode()
        s.sendall(b"\x05\x01\x00" + addr + struct.pack(">H", port))
        head = _recv_exact(s, 4)
        if head[1] != 0:
            raise SocksError(head[1])
        alen = {1: 4, 4: 16}.get(head[3])
        if alen is None:
            alen = _recv_exact(s, 1)[0]
        _recv_exact(s, alen + 2)
        return s
    except BaseException:
        s.close()
        raise


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


def http_get(socks_port, host, port, path, timeout=120, username=None):
    """GET through Tor; returns (status line, sha256 hex of the body, body length, seconds)."""
    t0 = time.time()
    s = socks_connect(socks_port, host, port, timeout=timeout, username=username)
    with s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("no HTTP header")
            buf += chunk
        header, body = buf.split(b"\r\n\r\n", 1)
        h = hashlib.sha256(body)
        n = len(body)
        while True:
            chunk = s.recv(1 << 18)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    return header.split(b"\r\n")[0].decode(), h.hexdigest(), n, time.time() - t0


def http_get_until(socks_port, host, port, path, within=120, timeout=120, username=None):
    """http_get, retried every 2 s for `within` seconds while the client has no working circuit
    yet (a SOCKS refusal or a broken connection); raises TimeoutError with the last error."""
    deadline = time.time() + within
    while True:
        try:
            return http_get(socks_port, host, port, path, timeout=timeout, username=username)
        except (OSError, SocksError) as e:
            if time.time() > deadline:
                raise TimeoutError(f"no stream through the exit: {e!r}") from e
            time.sleep(2)
