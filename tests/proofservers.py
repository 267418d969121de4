"""Real servers for the ownership tests: a DNS server and an HTTPS server with a test CA.

Both run as processes the tests start (as redis-server is), on loopback and free ports:

- `python -m tests.proofservers dns PORT ZONE`: dnslib's server, answering from a JSON zone
  file it reads again for every query, so a test publishes or removes a record by writing
  the file. Names listed under "ad" are answered with the DNSSEC AD flag set, as a
  validating resolver does;
- `python -m tests.proofservers web PORT ROOT [CERT KEY]`: files under ROOT/<host>/, over
  HTTPS when given a certificate, with a few hosts that misbehave on purpose (see Handler).
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import json
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.servers import ROOT, end, free_port, wait_for


class DnsServer:
    """dnslib on 127.0.0.1 (UDP and TCP), answering from `zone`."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.zone = workdir / "zone.json"
        self.records: list[dict[str, str]] = []
        self.ad: set[str] = set()
        self._write()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.proofservers", "dns", str(self.port), str(self.zone)],
            cwd=ROOT,
        )
        wait_for(self._answers, 10, "the test DNS server")

    @property
    def resolver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _answers(self) -> bool:
        import dns.message
        import dns.query

        try:
            query = dns.message.make_query("ready.test", "A")
            dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
        except Exception:
            return False
        return True

    def _write(self) -> None:
        data = {"records": self.records, "ad": sorted(self.ad)}
        temporary = self.zone.with_suffix(".tmp")
        temporary.write_text(json.dumps(data))
        os.replace(temporary, self.zone)

    def add(self, name: str, rtype: str, value: str) -> None:
        self.records.append({"name": name.rstrip(".").lower(), "type": rtype, "value": value})
        self._write()

    def remove(self, name: str, rtype: str) -> None:
        name = name.rstrip(".").lower()
        self.records = [r for r in self.records if (r["name"], r["type"]) != (name, rtype)]
        self._write()

    def sign(self, name: str) -> None:
        self.ad.add(name.rstrip(".").lower())
        self._write()

    def stop(self) -> None:
        end(self.process)


class ProofCA:
    """A certificate authority for tests, and a server certificate for some host names."""

    def __init__(self, workdir: Path, hosts: list[str]) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        now = datetime.datetime.now(datetime.UTC)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Keurmerk test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        self.ca_file = workdir / "ca.pem"
        self.cert_file = workdir / "cert.pem"
        self.key_file = workdir / "key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


class WebServer:
    """http.server with TLS (when given a CA), serving ROOT/<host>/<path>."""

    def __init__(self, workdir: Path, ca: ProofCA | None) -> None:
        self.port = free_port()
        self.root = workdir / "sites"
        self.root.mkdir(exist_ok=True)
        args = [sys.executable, "-m", "tests.proofservers", "web", str(self.port), str(self.root)]
        if ca is not None:
            args += [str(ca.cert_file), str(ca.key_file)]
        self.process = subprocess.Popen(args, cwd=ROOT)
        wait_for(self._listening, 10, "the test web server")

    def _listening(self) -> bool:
        import socket

        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
        except OSError:
            return False
        return True

    def publish(self, host: str, body: str) -> None:
        path = self.root / host / ".well-known" / "keurmerk-badge.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)

    def unpublish(self, host: str) -> None:
        (self.root / host / ".well-known" / "keurmerk-badge.txt").unlink(missing_ok=True)

    def stop(self) -> None:
        end(self.process)


def _serve_dns(port: int, zone: Path) -> None:
    from dnslib import QTYPE, RR, A, DNSRecord
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    class ZoneResolver(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: DNSRecord, handler: Any) -> DNSRecord:
            data = json.loads(zone.read_text())
            reply = request.reply()
            name = str(request.q.qname).rstrip(".").lower()
            qtype = QTYPE[request.q.qtype]
            known = [r for r in data["records"] if r["name"] == name]
            for record in known:
                if record["type"] == qtype == "TXT":
                    reply.add_answer(*RR.fromZone(f'{name}. 60 TXT "{record["value"]}"'))
                elif record["type"] == qtype == "A":
                    reply.add_answer(RR(name, QTYPE.A, rdata=A(record["value"]), ttl=60))
            if not known:
                reply.header.rcode = 3  # NXDOMAIN
            # The query asks for the AD bit; only "signed" names get it back.
            reply.header.ad = 1 if name in data["ad"] else 0
            return reply

    logger = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    servers = [
        DNSServer(ZoneResolver(), address="127.0.0.1", port=port, tcp=tcp, logger=logger)
        for tcp in (False, True)
    ]
    for server in servers:
        server.start_thread()
    while True:
        time.sleep(3600)


class Handler(http.server.BaseHTTPRequestHandler):
    """Files by Host; and hosts that misbehave: `redirect.*` sends the client to another
    host, `big.*` answers 10 KB, `slow.*` dribbles a byte every half second."""

    root = Path(".")

    def do_GET(self) -> None:
        host = (self.headers.get("host") or "").split(":")[0].lower()
        if host.startswith("redirect."):
            self._answer(302, b"", {"location": f"https://elsewhere.test{self.path}"})
        elif host.startswith("big."):
            self._answer(200, b"x" * 10_240)
        elif host.startswith("slow."):
            self.send_response(200)
            self.send_header("content-length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.5)
        else:
            path = self.root / host / self.path.lstrip("/").split("?")[0]
            if path.is_file() and self.root in path.resolve().parents:
                self._answer(200, path.read_bytes(), {"content-type": "text/plain"})
            else:
                self._answer(404, b"not found\n")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_web(port: int, root: Path, cert: str | None, key: str | None) -> None:
    Handler.root = root.resolve()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    if cert is not None and key is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


if __name__ == "__main__":
    kind, port_text, place, *tls = sys.argv[1:]
    if kind == "dns":
        _serve_dns(int(port_text), Path(place))
    else:
        _serve_web(int(port_text), Path(place), *(tls or [None, None]))
