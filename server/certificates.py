"""`pmm certs`: a private CA and a server certificate for a federation's TLS, and an EC key pair
per site for SuperNode authentication (the formats Flower reads: PEM certificates, OpenSSH keys).

The server certificate names every address sites will dial (`--host`, plus localhost and
127.0.0.1 so the server's own `flwr run` connection verifies too). Private keys are written
with mode 0600. Sites receive `ca.pem` and their own `nodes/<SITE>.key`; the server keeps the rest.
"""
from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from pmm_core.errors import PmmError

VALID_DAYS = 825  # the longest validity common TLS clients accept for a leaf certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "pmm federation"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _subject_alternative_names(hosts: list[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(["localhost", "127.0.0.1", *hosts]):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _write_private(path: Path, data: bytes) -> None:
    """A private key, created readable by its owner only (never world-readable, even for an
    instant); an existing file is replaced, not rewritten in place with its old mode."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def make_certificates(out: Path, hosts: list[str], nodes: list[str]) -> list[Path]:
    out = Path(out)
    if (out / "ca.pem").exists():
        raise PmmError(f"{out / 'ca.pem'} exists: a new CA would lock out every site holding the old one; use another --out")
    out.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca = (x509.CertificateBuilder().subject_name(_name("pmm federation CA")).issuer_name(_name("pmm federation CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .sign(ca_key, hashes.SHA256()))
    server_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    server = (x509.CertificateBuilder().subject_name(_name(hosts[0] if hosts else "localhost")).issuer_name(ca.subject)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
              .add_extension(_subject_alternative_names(hosts), critical=False)
              .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
              .sign(ca_key, hashes.SHA256()))
    written = [out / "ca.pem", out / "ca.key", out / "server.pem", out / "server.key"]
    written[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write_private(written[1], _pem_key(ca_key))
    written[2].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    _write_private(written[3], _pem_key(server_key))
    for node in nodes:
        key = ec.generate_private_key(ec.SECP256R1())
        private, public = out / "nodes" / f"{node}.key", out / "nodes" / f"{node}.pub"
        private.parent.mkdir(exist_ok=True)
        _write_private(private, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                                  serialization.NoEncryption()))
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                                         serialization.PublicFormat.OpenSSH))
        written += [private, public]
    return written
