"""The Kubernetes HTTP API on tornado: routing, discovery, verbs, watch streams, pod logs.

The admin endpoints under ``/sandbox/v1/`` (healthz, info, faults, reset, compact, audit) sit
beside the Kubernetes paths; faults of the API itself (latency, 5xx) apply only to the Kubernetes
paths, and only the Kubernetes paths go to the audit trail (:mod:`.audit`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote

import yaml
from tornado.httpserver import HTTPServer
from tornado.httputil import HTTPServerRequest
from tornado.iostream import StreamClosedError
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from . import errors, openapi
from .api import Api
from .audit import DEFAULT_SIZE, AuditLog
from .controllers.kueue.visibility import GROUP as VISIBILITY_GROUP
from .controllers.kueue.visibility import Visibility
from .decode import check_type_meta
from .errors import ApiError
from .eviction import evict
from .kubelet import Kubelet
from .logs import read_log
from .objects import Obj
from .patch import PATCH_TYPES
from .registry import SERVER_VERSION, Registry, ResourceType
from .store import Event
from .streaming import ApiFront, ExecHandler, PortForwardHandler
from .streaming.fronts import pod_container
from .tables import to_table, wants_table

log = logging.getLogger("aiinfn_hub.sandbox.apiserver")
DEFAULT_WATCH_TIMEOUT = 1800
_GO_INT = re.compile(r"^[+-]?[0-9]+$")  # what Go's strconv.ParseInt(s, 10, 64) reads
BOOKMARK_INTERVAL = 60.0
_OPEN_PATHS = ("/version", "/healthz", "/livez", "/readyz", "/sandbox/v1/healthz")
# the paths outside /api and /apis that the sandbox serves, as the real server lists them at /
_OTHER_PATHS = ("/healthz", "/livez", "/openapi/v3", "/readyz", "/version")


class LogSource(Protocol):
    def log_path(self, pod: Obj, container: str) -> Path | None: ...

    def container_running(self, pod: Obj, container: str) -> bool: ...


class Admin(Protocol):
    def info(self) -> dict[str, Any]: ...

    def faults_state(self) -> dict[str, Any]: ...

    def apply_fault(self, request: dict[str, Any]) -> dict[str, Any]: ...

    async def reset(self) -> dict[str, Any]: ...

    @property
    def api_latency_ms(self) -> float: ...

    @property
    def api_error_fraction(self) -> float: ...

    def refusal(self, info: dict[str, Any]) -> str | None: ...


class ApiServer:
    """The HTTP face of an ``Api``."""

    def __init__(
        self,
        api: Api,
        logs: LogSource,
        admin: Admin,
        token: str | None,
        bookmark_interval: float = BOOKMARK_INTERVAL,
        audit_log_size: int = DEFAULT_SIZE,
        *,
        kubelet: Kubelet | None = None,
        visibility: Visibility | None = None,
    ) -> None:
        self.api = api
        #: Kueue's visibility API (an aggregated API server's group), when it is served.
        self.visibility = visibility
        self.registry: Registry = api.registry
        self.logs = logs
        self.admin = admin
        self.token = token
        self.bookmark_interval = bookmark_interval
        self.audit = AuditLog(audit_log_size)
        self.address = ""
        routes: list[Any] = []
        self.streams: ApiFront | None = None
        if kubelet is not None:  # exec and port-forward, before the catch-all
            self.streams = ApiFront(self, kubelet)
            pod = r"/api/v1/namespaces/([^/]+)/pods/([^/]+)"
            options = {"front": self.streams}
            routes += [
                (pod + r"/exec/?", ExecHandler, options),
                (pod + r"/portforward/?", PortForwardHandler, options),
            ]
        routes.append((r"(.*)", _Handler, {"server": self}))
        self.app = Application(routes, compress_response=False, log_function=_log_request)
        self._http: HTTPServer | None = None
        self._random = random.Random()

    def listen(self, port: int, host: str) -> int:
        """Start serving; returns the bound port (useful with port 0)."""
        self._http = HTTPServer(self.app, idle_connection_timeout=3600, body_timeout=600)
        sockets = bind_sockets(port, host)
        self._http.add_sockets(sockets)
        bound = sockets[0].getsockname()[1]
        self.address = f"{host}:{bound}"
        return bound

    async def close(self) -> None:
        if self.streams is not None:
            self.streams.close_all()
        if self._http is not None:
            self._http.stop()
            await self._http.close_all_connections()
            self._http = None

    def should_fail(self) -> bool:
        fraction = self.admin.api_error_fraction
        return fraction > 0 and self._random.random() < fraction

    def authorized(self, path: str, request: HTTPServerRequest) -> bool:
        """Whether the request carries the token (when one is required)."""
        if not self.token or path in _OPEN_PATHS:
            return True
        return request.headers.get("Authorization", "") == f"Bearer {self.token}"

    async def admit(self, method: str, path: str, handler: RequestHandler) -> dict[str, Any]:
        """What every Kubernetes path passes, in order: the audit trail (the returned entry,
        whose ``code`` the caller sets once answered), the token, the API's faults, and the
        RBAC refusals of the ``forbid`` fault."""
        request = handler.request
        entry = self.audit.record(
            method,
            path,
            lambda name: handler.get_query_argument(name, None),
            request.headers.get("User-Agent", ""),
        )
        if not self.authorized(path, request):
            raise errors.unauthorized()
        latency = self.admin.api_latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000)
        if self.should_fail():
            raise errors.service_unavailable(
                "the server is currently unable to handle the request (sandbox fault)"
            )
        refused_user = self.admin.refusal(entry or {})
        if refused_user is not None:
            raise errors.forbidden(entry, refused_user)
        return entry


def _log_request(handler: RequestHandler) -> None:
    if handler.get_status() >= 500:
        log.warning(
            "%s %s -> %s", handler.request.method, handler.request.uri, handler.get_status()
        )


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


class _Handler(RequestHandler):
    SUPPORTED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

    def initialize(self, server: ApiServer) -> None:
        self.server = server
        self.api = server.api
        self._closed: asyncio.Event | None = None
        self._subscription: Any = None
        self._audited: dict[str, Any] | None = None

    def on_connection_close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()

    def on_finish(self) -> None:
        if self._audited is not None:
            self._audited["code"] = self.get_status()

    def check_xsrf_cookie(self) -> None:  # an API, not a browser form
        return

    def compute_etag(self) -> None:
        return None

    async def get(self, path: str) -> None:
        await self._serve("GET", path)

    async def post(self, path: str) -> None:
        await self._serve("POST", path)

    async def put(self, path: str) -> None:
        await self._serve("PUT", path)

    async def patch(self, path: str) -> None:
        await self._serve("PATCH", path)

    async def delete(self, path: str) -> None:
        await self._serve("DELETE", path)

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        self.set_status(code)
        self.set_header("Content-Type", content_type)
        self.set_header("Cache-Control", "no-cache, private")
        self.finish(body if isinstance(body, bytes | str) else _json(body))

    def _stream_now(self) -> None:
        """No Nagle delay on a stream of small writes (watch events, followed logs), as Go's
        net/http serves them."""
        stream = getattr(self.request.connection, "stream", None)
        if stream is not None:
            stream.set_nodelay(True)

    def _send_error(self, error: ApiError) -> None:
        if isinstance(error, errors.PageNotFound):
            self._send(error.code, error.TEXT, "text/plain; charset=utf-8")
        else:
            self._send(error.code, error.status())

    def _arg(self, name: str, default: str | None = None) -> str | None:
        return self.get_query_argument(name, default)

    def _int_arg(self, name: str) -> int | None:
        """A whole-number query parameter; anything else is a 400 with the message the real
        server's parameter decoding gives (Go's strconv.ParseInt)."""
        value = self._arg(name)
        if value in (None, ""):
            return None
        if not _GO_INT.match(value):
            raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": invalid syntax')
        number = int(value)
        if not -(2**63) <= number < 2**63:
            raise errors.bad_request(f'strconv.ParseInt: parsing "{value}": value out of range')
        return number

    def _bool_arg(self, name: str) -> bool:
        return (self._arg(name) or "").lower() in ("true", "1")

    def _body(self) -> Any:
        raw = self.request.body or b""
        if not raw.strip():
            return None
        content_type = self.request.headers.get("Content-Type", "")
        if "protobuf" in content_type:
            raise errors.unsupported_media_type(
                "the sandbox speaks JSON only, not protobuf (kubectl create KIND NAME sends "
                "protobuf: add --dry-run=client -o yaml and pipe it to kubectl apply -f -)"
            )
        try:
            if "yaml" in content_type:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.bad_request(f"the body of the request is not valid JSON: {exc}") from exc

    async def _serve(self, method: str, path: str) -> None:
        path = "/" + unquote(path).strip("/")
        try:
            if path.startswith("/sandbox/v1/"):
                if not self.server.authorized(path, self.request):
                    raise errors.unauthorized()
                await self._admin(method, path[len("/sandbox/v1/") :])
                return
            self._audited = await self.server.admit(method, path, self)
            await self._kube(method, path)
        except ApiError as exc:
            if not self._finished:
                self._send_error(exc)
        except StreamClosedError:
            pass
        except Exception as exc:  # an answer a client can read, and the trace in the log
            log.exception("internal error on %s %s", method, path)
            if not self._finished:
                self._send_error(ApiError(500, "InternalError", f"Internal error occurred: {exc}"))

    # -- admin endpoints --------------------------------------------------------------------------

    async def _admin(self, method: str, rest: str) -> None:
        admin = self.server.admin
        if rest == "healthz" and method == "GET":
            self._send(200, {"ok": True})
        elif rest == "info" and method == "GET":
            self._send(200, admin.info())
        elif rest == "faults" and method == "GET":
            self._send(200, admin.faults_state())
        elif rest == "faults" and method == "POST":
            body = self._body()
            if not isinstance(body, dict):
                raise errors.bad_request("expected a JSON object naming a fault")
            try:
                self._send(200, admin.apply_fault(body))
            except (KeyError, ValueError) as exc:
                # a KeyError's str() is the repr of its message; its message as written
                words = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
                raise errors.bad_request(words) from exc
        elif rest == "faults" and method == "DELETE":
            self._send(200, admin.apply_fault({"fault": "clear"}))
        elif rest == "compact" and method == "POST":
            self._send(200, {"compactedResourceVersion": self.api.store.compact()})
        elif rest == "reset" and method == "POST":
            self._send(200, await admin.reset())
        elif rest == "audit" and method == "GET":
            since = self._int_arg("since") or 0
            self._send(200, self.server.audit.entries(since, self._arg("userAgent") or ""))
        else:
            raise errors.unknown_path()

    # -- Kubernetes paths -------------------------------------------------------------------------

    async def _kube(self, method: str, path: str) -> None:
        registry = self.server.registry
        parts = [p for p in path.split("/") if p]
        top = parts[0] if parts else ""
        if top not in ("api", "apis", "version", "openapi") and path not in ("/", *_OTHER_PATHS):
            raise errors.PageNotFound()
        if parts[:2] == ["apis", VISIBILITY_GROUP] and self.server.visibility is not None:
            if method != "GET":
                raise errors.method_not_allowed()
            return self._send(200, self.server.visibility.serve(parts[2:], self._arg))
        if parts[:1] == ["apis"] and len(parts) >= 2 and parts[1] not in registry.groups:
            raise errors.PageNotFound()  # a group no one serves: no Status either
        if method != "GET" and (len(parts) < 3 or parts[0] not in ("api", "apis")):
            raise errors.method_not_allowed()
        if path == "/":
            return self._send(200, {"paths": registry.paths(_OTHER_PATHS)})
        if path == "/version":
            return self._send(200, SERVER_VERSION)
        if path in ("/healthz", "/livez", "/readyz"):
            return self._send(200, "ok", "text/plain")
        if path == "/api":
            return self._send(200, registry.api_versions(self.server.address))
        if path == "/apis":
            return self._send(200, registry.api_group_list())
        if path == "/openapi/v3":
            return self._send(200, openapi.root_doc(registry))
        if path.startswith("/openapi/v3/"):
            rest = path[len("/openapi/v3/") :].split("/")
            group, version = ("", rest[-1]) if rest[0] == "api" else (rest[1], rest[-1])
            doc = openapi.group_version_doc(registry, group if len(rest) == 3 else "", version)
            if doc is None:
                raise errors.unknown_path()
            return self._send(200, doc)
        if parts[0] == "api" and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) >= 2:
            if len(parts) == 2:
                if parts[1] not in registry.groups:
                    raise errors.unknown_path()
                return self._send(200, registry.api_group(parts[1]))
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise errors.unknown_path()
        # a custom resource's group answers what it does not serve as an unknown group does
        missing = errors.PageNotFound if group in registry.custom_groups else errors.unknown_path
        if version not in registry.served_versions(group):
            raise missing()
        if not rest:
            if method != "GET":
                raise errors.method_not_allowed()
            doc = registry.resource_list(group, version)
            if doc is None:
                raise missing()
            return self._send(200, doc)
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            candidate = registry.lookup(group, version, rest[2])
            if candidate is not None and candidate.namespaced:
                namespace, rest = rest[1], rest[2:]
        rt = registry.lookup(group, version, rest[0])
        if rt is None or len(rest) > 3:
            raise missing()
        if rt.namespaced is False and namespace is not None:
            raise missing()
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if rt.namespaced and name is not None and namespace is None:
            raise missing()
        if sub is not None and sub not in rt.subresources:
            if not rt.builtin:  # the custom resource handler takes it for another object
                raise errors.not_found(rt.plural, rt.group, name or "")
            raise errors.unknown_path()
        await self._resource(method, rt, version, namespace, name, sub)

    async def _resource(
        self,
        method: str,
        rt: ResourceType,
        version: str,
        namespace: str | None,
        name: str | None,
        sub: str | None,
    ) -> None:
        api = self.api
        ns = namespace or ""
        dry_run = bool(self._arg("dryRun"))
        if name is None:
            if method == "GET":
                watch = (self._arg("watch") or "").lower() in ("true", "1")
                if watch:
                    return await self._watch(rt, version, namespace)
                return self._list(rt, version, namespace)
            if method == "POST":
                created = api.create(rt, ns, self._incoming(rt, version), dry_run=dry_run)
                return self._send(201, self._out(rt, version, created))
            if method == "DELETE":
                items = api.delete_collection(
                    rt, namespace, self._arg("labelSelector"), self._arg("fieldSelector"),
                    self._delete_options(),
                )  # fmt: skip
                kind = f"{rt.kind}List"
                out = [self._out(rt, version, o) if o.get("kind") == rt.kind else o for o in items]
                return self._send(
                    200,
                    {
                        "kind": kind,
                        "apiVersion": rt.api_version(version),
                        "metadata": {},
                        "items": out,
                    },
                )
            raise errors.method_not_allowed()
        if sub == "log":
            if method != "GET":
                raise errors.method_not_allowed()
            return await self._pod_log(rt, ns, name)
        if sub == "eviction":
            if method != "POST":
                raise errors.method_not_allowed()
            return self._send(201, evict(api, ns, name, self._body()))
        if method == "GET":
            obj = api.get(rt, ns, name)
            if wants_table(self.request.headers.get("Accept", "")):
                table = to_table(
                    rt,
                    [self._out(rt, version, obj)],
                    obj["metadata"]["resourceVersion"],
                    self._arg("includeObject") or "",
                )
                return self._send(200, table)
            return self._send(200, self._out(rt, version, obj))
        if method == "PUT":
            updated = api.update(
                rt, ns, name, self._incoming(rt, version), subresource=sub, dry_run=dry_run
            )
            return self._send(200, self._out(rt, version, updated))
        if method == "PATCH":
            content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
            if content_type not in PATCH_TYPES:
                raise errors.unsupported_media_type(
                    f"the body of the request was in an unknown format - accepted media types "
                    f"include: {', '.join(PATCH_TYPES)}"
                )
            body = self._body()
            if (
                content_type != "application/json-patch+json"
                and version != rt.storage_version
                and isinstance(body, dict)
            ):
                body = rt.from_version(body, version)
                body.pop("apiVersion", None)
                body.pop("kind", None)
            try:
                patched = api.patch(
                    rt, ns, name, content_type, body, subresource=sub, dry_run=dry_run
                )
            except ApiError as exc:
                if (
                    exc.code == 404
                    and content_type == "application/apply-patch+yaml"
                    and sub is None
                ):
                    patched = api.create(rt, ns, self._incoming(rt, version), dry_run=dry_run)
                    return self._send(201, self._out(rt, version, patched))
                raise
            return self._send(200, self._out(rt, version, patched))
        if method == "DELETE":
            if sub is not None:
                raise errors.method_not_allowed()
            result, _gone = api.delete(rt, ns, name, self._delete_options(), dry_run=dry_run)
            if result.get("kind") == rt.kind:
                result = self._out(rt, version, result)
            return self._send(200, result)
        raise errors.method_not_allowed()

    def _incoming(self, rt: ResourceType, version: str) -> Obj:
        body = self._body()
        body = {} if body is None else body  # an empty body decodes as an empty object
        check_type_meta(self.server.registry, rt, version, body, self.request.body or b"")
        return rt.from_version(body, version)

    def _out(self, rt: ResourceType, version: str, obj: Obj) -> Obj:
        return rt.to_version(obj, version)

    def _delete_options(self) -> Obj:
        options = self._body() or {}
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
        for name in ("gracePeriodSeconds",):
            value = self._int_arg(name)
            if value is not None:
                options[name] = value
        policy = self._arg("propagationPolicy")
        if policy:
            options["propagationPolicy"] = policy
        if self._arg("orphanDependents"):
            options["orphanDependents"] = self._bool_arg("orphanDependents")
        return options

    def _list(self, rt: ResourceType, version: str, namespace: str | None) -> None:
        result = self.api.list(
            rt,
            namespace,
            self._arg("labelSelector"),
            self._arg("fieldSelector"),
            self._int_arg("limit"),
            self._arg("continue"),
        )
        items = [self._out(rt, version, o) for o in result.items]
        rv = str(result.resource_version)
        if wants_table(self.request.headers.get("Accept", "")):
            table = to_table(rt, items, rv, self._arg("includeObject") or "")
            if result.continue_token:
                table["metadata"]["continue"] = result.continue_token
            return self._send(200, table)
        meta: dict[str, Any] = {"resourceVersion": rv}
        if result.continue_token:
            meta["continue"] = result.continue_token
            if result.remaining is not None:
                meta["remainingItemCount"] = result.remaining
        body = {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version(version),
            "metadata": meta,
            "items": items,
        }
        self._send(200, body)

    # -- watch ------------------------------------------------------------------------------------

    async def _watch(self, rt: ResourceType, version: str, namespace: str | None) -> None:
        api = self.api
        labels, fields = api.parse_selectors(
            rt, self._arg("labelSelector"), self._arg("fieldSelector")
        )
        raw_rv = self._arg("resourceVersion") or ""
        initial = self._bool_arg("sendInitialEvents")
        try:
            since = None if raw_rv in ("", "0") or initial else int(raw_rv)
        except ValueError as exc:
            raise errors.bad_request(f'resourceVersion: Invalid value: "{raw_rv}"') from exc
        timeout = self._int_arg("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT
        bookmarks = self._bool_arg("allowWatchBookmarks")
        table = wants_table(self.request.headers.get("Accept", ""))
        self._stream_now()
        self.set_status(200)
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-cache, private")
        try:
            replay, sub = api.store.watch(rt, namespace, since)
        except ApiError as exc:
            self.write(_json({"type": "ERROR", "object": exc.status()}) + b"\n")
            self.finish()
            return
        self._subscription = sub
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout

        def visible(obj: Obj | None) -> bool:
            return obj is not None and api.matches(obj, labels, fields)

        def encode(event: Event) -> bytes | None:
            new_vis = visible(event.obj)
            old_vis = visible(event.old) if event.old is not None else new_vis
            kind = event.type
            if event.type == "MODIFIED":
                if not new_vis and not old_vis:
                    return None
                kind = "MODIFIED" if new_vis and old_vis else "ADDED" if new_vis else "DELETED"
            elif event.type == "DELETED":
                if not (old_vis or new_vis):
                    return None
            elif not new_vis:
                return None
            obj = self._out(rt, version, event.obj)
            if table:
                obj = to_table(
                    rt, [obj], obj["metadata"]["resourceVersion"], self._arg("includeObject") or ""
                )
            return _json({"type": kind, "object": obj}) + b"\n"

        def bookmark(initial_end: bool = False) -> bytes:
            meta: Obj = {"resourceVersion": str(api.store.resource_version)}
            if initial_end:
                meta["annotations"] = {"k8s.io/initial-events-end": "true"}
            return (
                _json(
                    {
                        "type": "BOOKMARK",
                        "object": {
                            "kind": rt.kind,
                            "apiVersion": rt.api_version(version),
                            "metadata": meta,
                        },
                    }
                )
                + b"\n"
            )

        try:
            chunks = [c for c in map(encode, replay) if c]
            if initial and bookmarks:
                chunks.append(bookmark(True))
            if chunks:
                self.write(b"".join(chunks))
            await self.flush()
            next_bookmark = self._next_bookmark(loop.time(), deadline)
            while not sub.closed:
                now = loop.time()
                if now >= deadline:
                    break
                wait = min(deadline, next_bookmark) - now if bookmarks else deadline - now
                try:
                    event = await asyncio.wait_for(sub.queue.get(), max(wait, 0.001))
                except asyncio.TimeoutError:
                    if bookmarks and loop.time() >= next_bookmark:
                        self.write(bookmark())
                        await self.flush()
                        next_bookmark = self._next_bookmark(loop.time(), deadline)
                    continue
                batch = [event]
                while not sub.queue.empty():
                    batch.append(sub.queue.get_nowait())
                if any(e is None for e in batch):
                    batch = batch[: batch.index(None)]
                    sub.closed = True
                chunks = [c for c in (encode(e) for e in batch if e is not None) if c]
                if chunks:
                    self.write(b"".join(chunks))
                    await self.flush()
        finally:
            sub.close()
        if not self._finished:
            self.finish()

    def _next_bookmark(self, now: float, deadline: float) -> float:
        """As the real server: two seconds before the deadline, else every interval."""
        heartbeat = deadline - 2
        return (
            min(heartbeat, now + self.server.bookmark_interval)
            if heartbeat > now
            else now + self.server.bookmark_interval
        )

    # -- pod logs ---------------------------------------------------------------------------------

    async def _pod_log(self, rt: ResourceType, namespace: str, name: str) -> None:
        # as the real server: options are decoded (400) and validated (422) before the pod is read
        tail_lines = self._int_arg("tailLines")
        limit_bytes = self._int_arg("limitBytes")
        since_seconds = self._int_arg("sinceSeconds")
        causes = []
        if tail_lines is not None and tail_lines < 0:
            causes.append(("tailLines", tail_lines, "must be greater than or equal to 0"))
        if limit_bytes is not None and limit_bytes < 1:
            causes.append(("limitBytes", limit_bytes, "must be greater than 0"))
        if since_seconds is not None and since_seconds < 1:
            causes.append(("sinceSeconds", since_seconds, "must be greater than 0"))
        if causes:
            raise errors.invalid(
                "PodLogOptions",
                "",
                name,
                [(f, "FieldValueInvalid", f"Invalid value: {v}: {why}") for f, v, why in causes],
            )
        pod = self.api.get(rt, namespace, name)
        container = pod_container(pod, self._arg("container") or "")
        logs = self.server.logs
        path = logs.log_path(pod, container)
        if path is None:
            state = _container_waiting_reason(pod, container)
            raise errors.bad_request(
                f'container "{container}" in pod "{name}" is waiting to start: {state}'
            )
        follow = self._bool_arg("follow")
        if self._bool_arg("previous"):
            previous = path.with_suffix(".previous.log")
            if not previous.exists():
                raise errors.bad_request(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            path, follow = previous, False
        if follow:
            self._stream_now()
        self.set_status(200)
        self.set_header("Content-Type", "text/plain")

        def alive() -> bool:
            current = self.api.find(rt, namespace, name)
            return (
                current is not None
                and current["metadata"]["uid"] == pod["metadata"]["uid"]
                and logs.container_running(current, container)
            )

        async for chunk in read_log(
            path,
            follow=follow,
            alive=alive,
            tail_lines=tail_lines,
            limit_bytes=limit_bytes,
        ):
            self.write(chunk)
            if follow:
                await self.flush()
        self.finish()


def _container_waiting_reason(pod: Obj, container: str) -> str:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == container:
            waiting = (status.get("state") or {}).get("waiting") or {}
            return waiting.get("reason") or "ContainerCreating"
    return "ContainerCreating"
