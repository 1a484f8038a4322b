"""A small synchronous client of the real API server for the control plane's own set-up:
kubeconfig files, readiness, discovery and server-side apply of manifests.

The product talks to Kubernetes through ``kubernetes_asyncio``; this module serves only
``aiinfn-hub cluster`` (bootstrapping, faults), which runs before any event loop.
"""

from __future__ import annotations

import base64
import json
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import yaml

from .certs import Pair

APPLY_PATCH = "application/apply-patch+yaml"
FIELD_MANAGER = "aiinfn-hub-cluster"


class ApiRefused(Exception):
    """The API server answered with an error: ``status`` and its message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def write_kubeconfig(path: Path, *, server: str, ca: bytes, client: Pair, name: str) -> Path:
    """A kubeconfig for one identity with the certificates embedded (it can be copied)."""
    user = {
        "client-certificate-data": _b64(client.cert.read_bytes()),
        "client-key-data": _b64(client.key.read_bytes()),
    }
    return _write(path, server=server, ca=ca, user=user, name=name)


def write_token_kubeconfig(path: Path, *, server: str, ca: bytes, token: str, name: str) -> Path:
    """A kubeconfig that authenticates with a bearer token (a ServiceAccount's)."""
    return _write(path, server=server, ca=ca, user={"token": token}, name=name)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write(path: Path, *, server: str, ca: bytes, user: dict[str, str], name: str) -> Path:
    """One cluster, one user and their context, readable by the owner only."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority-data": _b64(ca)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
    return path


@dataclass
class KubeApi:
    """JSON over HTTPS to ``server`` as the identity ``client``."""

    server: str
    ca_file: Path
    client: Pair
    timeout: float = 30.0

    def __post_init__(self) -> None:
        self.context = ssl.create_default_context(cafile=str(self.ca_file))
        self.context.load_cert_chain(str(self.client.cert), str(self.client.key))
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> Any:
        url = self.server + path + ("?" + urlencode(query) if query else "")
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = Request(url, data=data, method=method)
        request.add_header("Content-Type", content_type)
        request.add_header("Accept", "application/json")
        try:
            with urlopen(request, context=self.context, timeout=timeout or self.timeout) as answer:
                raw = answer.read()
        except HTTPError as exc:
            raw = exc.read()
            try:
                message = json.loads(raw).get("message") or raw.decode(errors="replace")
            except ValueError:
                message = raw.decode(errors="replace")
            raise ApiRefused(exc.code, message.strip()) from None
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return raw.decode(errors="replace")

    def reachable(self, path: str = "/readyz") -> bool:
        try:
            self.request("GET", path, timeout=5)
            return True
        except (ApiRefused, URLError, OSError):
            return False

    def version(self) -> str:
        return self.request("GET", "/version")["gitVersion"]

    # -- discovery and apply ----------------------------------------------------------------

    def _discover(self, api_version: str) -> None:
        path = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        for item in self.request("GET", path).get("resources", ()):
            if "/" not in item["name"]:
                self._resources[(api_version, item["kind"])] = (item["name"], item["namespaced"])

    def resource_path(self, obj: Mapping[str, Any], namespace: str = "") -> str:
        """The URL path of ``obj`` (its collection's, plus its name)."""
        api_version, kind = obj["apiVersion"], obj["kind"]
        if (api_version, kind) not in self._resources:
            self._discover(api_version)
        try:
            plural, namespaced = self._resources[(api_version, kind)]
        except KeyError:
            raise ApiRefused(404, f"the server does not serve {kind} in {api_version}") from None
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        meta = obj.get("metadata") or {}
        if namespaced:
            base += f"/namespaces/{meta.get('namespace') or namespace or 'default'}"
        return f"{base}/{plural}/{meta['name']}"

    def apply(self, obj: Mapping[str, Any], namespace: str = "") -> Any:
        """Server-side apply, forcing ownership (the control plane owns what it applies)."""
        return self.request(
            "PATCH",
            self.resource_path(obj, namespace),
            yaml.safe_dump(dict(obj)).encode(),
            query={"fieldManager": FIELD_MANAGER, "force": "true"},
            content_type=APPLY_PATCH,
        )

    def apply_all(self, documents: Iterable[Mapping[str, Any]], namespace: str = "") -> int:
        count = 0
        for obj in documents:
            if obj:
                self.apply(obj, namespace)
                count += 1
        return count

    def service_account_token(self, namespace: str, name: str, seconds: int = 86400) -> str:
        """A token of the ServiceAccount ``namespace/name`` (TokenRequest), as a pod of it
        would get."""
        answer = self.request(
            "POST",
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": seconds},
            },
        )
        return answer["status"]["token"]

    def wait_for(
        self, what: str, ready: Callable[[], bool], timeout: float = 60.0, interval: float = 0.5
    ) -> None:
        """Poll ``ready`` (errors count as not yet) until ``timeout``; a TimeoutError names
        ``what``."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except (ApiRefused, URLError, OSError) as exc:
                last = f" (last answer: {exc})"
            time.sleep(interval)
        raise TimeoutError(f"{what} not ready after {timeout:.0f} s{last}")


def load_documents(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of a manifest file, empty ones left out."""
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
