"""Kubernetes API errors as ``metav1.Status`` bodies, with a real server's reasons and codes."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error answer of the API server; ``status()`` is its ``metav1.Status`` body."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if not self.reason:  # e.g. an admission webhook's denial
            del body["reason"]
        if self.details is not None:
            body["details"] = self.details
        return body


def _resource(plural: str, group: str) -> str:
    return f"{plural}.{group}" if group else plural


def _details(plural: str, group: str, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        404,
        "NotFound",
        f'{_resource(plural, group)} "{name}" not found',
        _details(plural, group, name),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_resource(plural, group)} "{name}" already exists',
        _details(plural, group, name),
    )


def conflict(plural: str, group: str, name: str, why: str | None = None) -> ApiError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource(plural, group)} "{name}": {why}',
        _details(plural, group, name),
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; each cause is (field, reason such as FieldValueRequired, message).

    An empty kind, group or name is left out of the details, as the real server's JSON does."""
    parts = [f"{field}: {message}" for field, _reason, message in causes]
    text = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    details: dict[str, Any] = {
        key: value for key, value in (("name", name), ("group", group), ("kind", kind)) if value
    }
    details["causes"] = [
        {"reason": reason, "message": message, "field": field} for field, reason, message in causes
    ]
    qualified = f"{kind}.{group}" if group else kind
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {text}', details)


def forbidden(info: dict[str, Any], user: str) -> ApiError:
    """403 as the API server's RBAC authorizer words it, for a request resolved by
    :func:`.audit.request_info` (verb, API group, resource, subresource, namespace, name)."""
    plural, group, name = info["resource"], info["apiGroup"], info["name"]
    resource = f"{plural}/{info['subresource']}" if info["subresource"] else plural
    scope = (
        f'in the namespace "{info["namespace"]}"' if info["namespace"] else "at the cluster scope"
    )
    reason = (
        f'User "{user}" cannot {info["verb"]} resource "{resource}" in API group "{group}" {scope}'
    )
    subject = f'{_resource(plural, group)} "{name}"' if name else _resource(plural, group)
    details = _details(plural, group, name)
    if not name:
        del details["name"]  # omitted when empty, as Go's omitempty does
    return ApiError(403, "Forbidden", f"{subject} is forbidden: {reason}", details)


def precondition_failed(
    kind: str, group: str, name: str, *, field: str, sent: str, held: str
) -> ApiError:
    """409 for a delete whose precondition (``uid`` or ``resourceVersion``) does not hold, in the
    words of the real server's generic delete: the resource named by its kind, not its plural."""
    label, why = (
        ("UID", "deleted and then recreated") if field == "uid" else ("ResourceVersion", "modified")
    )
    return conflict(
        kind,
        group,
        name,
        f"the {label} in the precondition ({sent}) does not match the {label} in record "
        f"({held}). The object might have been {why}",
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def unsupported_media_type(message: str) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", message)


def method_not_allowed() -> ApiError:
    """405, in the real server's words whatever the path (a discovery document, a collection,
    a subresource): it does not say which methods would do."""
    message = "the server does not allow this method on the requested resource"
    return ApiError(405, "MethodNotAllowed", message, {})


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def service_unavailable(message: str) -> ApiError:
    return ApiError(503, "ServiceUnavailable", message)


def unknown_path() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


class PageNotFound(ApiError):
    """A path that no API group serves (an unknown group, a path outside ``/api`` and
    ``/apis``, an unknown version or resource of a custom resource's group): the real server
    answers these from its last handler, with a plain-text 404 rather than a Status."""

    TEXT = "404 page not found\n"

    def __init__(self) -> None:
        super().__init__(404, "NotFound", self.TEXT.strip())
