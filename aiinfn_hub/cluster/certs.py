"""The control plane's certificates and keys, made with ``cryptography``.

One cluster CA signs the API server's serving certificate, every client identity (the admin,
the controller manager, the scheduler, Kueue, each node agent and virtual kubelet as a
kubelet would be) and the serving certificates of the kubelet APIs and Kueue's webhooks. A
second CA signs the front proxy's client certificate (the aggregation layer). The service
account key pair signs ServiceAccount tokens.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The first address of the service range: the ``kubernetes`` Service's ClusterIP.
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class Pair:
    """A certificate and its key on disk."""

    cert: Path
    key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _read_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The CA key written by an earlier run (always an elliptic-curve key, as ``_key`` makes)."""
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path} holds no elliptic-curve key: delete it to make a new CA")
    return key


def _write_key(path: Path, key) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _name(common_name: str, organizations: tuple[str, ...] = ()) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    return x509.Name([*parts, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Authority:
    """A CA that signs leaf certificates into a folder."""

    def __init__(self, folder: Path, name: str, common_name: str) -> None:
        self.folder = folder
        self.pair = Pair(folder / f"{name}.crt", folder / f"{name}.key")
        if self.pair.cert.is_file() and self.pair.key.is_file():
            self.cert = x509.load_pem_x509_certificate(self.pair.cert.read_bytes())
            self.key = _read_key(self.pair.key)
            return
        self.key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        subject = _name(common_name)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY * 10)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        _write_key(self.pair.key, self.key)
        self.pair.cert.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        name: str,
        common_name: str,
        *,
        organizations: tuple[str, ...] = (),
        server: bool = False,
        client: bool = False,
        hosts: tuple[str, ...] = (),
    ) -> Pair:
        """A leaf certificate for ``common_name`` (kept if already issued)."""
        pair = Pair(self.folder / f"{name}.crt", self.folder / f"{name}.key")
        if pair.cert.is_file() and pair.key.is_file():
            return pair
        key = _key()
        now = datetime.datetime.now(datetime.timezone.utc)
        usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name, organizations))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + VALIDITY)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        )
        if hosts:
            names: list[x509.GeneralName] = []
            for host in hosts:
                try:
                    names.append(x509.IPAddress(ipaddress.ip_address(host)))
                except ValueError:
                    names.append(x509.DNSName(host))
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        _write_key(pair.key, key)
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return pair


@dataclass(frozen=True)
class ClusterCerts:
    """Every certificate the control plane uses, in ``folder``."""

    folder: Path
    ca: Authority
    front_proxy_ca: Authority

    @classmethod
    def create(cls, folder: Path) -> ClusterCerts:
        folder.mkdir(parents=True, exist_ok=True)
        certs = cls(
            folder,
            Authority(folder, "ca", "aiinfn-hub-cluster-ca"),
            Authority(folder, "front-proxy-ca", "aiinfn-hub-front-proxy-ca"),
        )
        certs.service_account_key()
        return certs

    def apiserver(self) -> Pair:
        hosts = (
            "127.0.0.1",
            "localhost",
            KUBERNETES_SERVICE_IP,
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
        return self.ca.issue("apiserver", "kube-apiserver", server=True, hosts=hosts)

    def client(self, name: str, user: str, groups: tuple[str, ...] = ()) -> Pair:
        """A client identity for the API server (user = CN, groups = O)."""
        return self.ca.issue(name, user, organizations=groups, client=True)

    def serving(self, name: str, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")) -> Pair:
        return self.ca.issue(name, name, server=True, hosts=hosts)

    def front_proxy_client(self) -> Pair:
        return self.front_proxy_ca.issue("front-proxy-client", "front-proxy-client", client=True)

    def service_account_key(self) -> Pair:
        """The key pair that signs and verifies ServiceAccount tokens (RSA, as kubeadm)."""
        pair = Pair(self.folder / "sa.pub", self.folder / "sa.key")
        if not pair.key.is_file():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _write_key(pair.key, key)
            pair.cert.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return pair
