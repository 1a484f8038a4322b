"""Defaulting and validation on create and update, as the API server and its webhooks do."""

from __future__ import annotations

import base64
import ipaddress
import itertools
import re
from collections.abc import Callable
from typing import Any

from ..kube.quantity import parse_quantity
from .errors import invalid
from .objects import Obj
from .registry import ResourceType

Cause = tuple[str, str, str]  # field, reason, message
Hook = Callable[[ResourceType, Obj], None]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_LABEL_NAMED = {"namespaces", "services"}
_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
_POD_MUTABLE_MSG = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)
DEFAULT_TOLERATIONS = [
    {
        "key": f"node.kubernetes.io/{key}",
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    for key in ("not-ready", "unreachable")
]


class Admission:
    """Runs defaulting, mutating hooks (e.g. Kueue's Job webhook) and validation."""

    def __init__(self) -> None:
        self.create_hooks: list[Hook] = []
        self._cluster_ips = (f"10.96.{i // 250}.{i % 250 + 2}" for i in itertools.count())

    def on_create(self, rt: ResourceType, obj: Obj) -> None:
        default = _DEFAULTS.get(rt.plural)
        if default:
            default(obj, True)
        if rt.plural == "services":
            _default_service_ip(obj, self._cluster_ips)
        for hook in self.create_hooks:
            hook(rt, obj)
        self.validate(rt, obj)

    def on_update(self, rt: ResourceType, old: Obj, new: Obj) -> None:
        default = _DEFAULTS.get(rt.plural)
        if default:
            default(new, False)
        self.validate(rt, new)
        check = _UPDATE_CHECKS.get(rt.plural)
        causes = check(old, new) if check else []
        if causes:
            raise invalid(rt.kind, rt.group, new["metadata"]["name"], causes)

    def validate(self, rt: ResourceType, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        name = meta.get("name") or meta.get("generateName") or ""
        causes = _validate_name(rt, meta)
        check = _VALIDATORS.get(rt.plural)
        if check:
            causes += check(obj)
        if causes:
            raise invalid(rt.kind, rt.group, name, causes)


# -- names ---------------------------------------------------------------------------------------


def _validate_name(rt: ResourceType, meta: Obj) -> list[Cause]:
    name = meta.get("name")
    if not name:
        return [
            (
                "metadata.name",
                "FieldValueRequired",
                "Required value: name or generateName is required",
            )
        ]
    pattern, message, limit = (
        (_LABEL, _LABEL_MSG, 63) if rt.plural in _LABEL_NAMED else (_SUBDOMAIN, _SUBDOMAIN_MSG, 253)
    )
    if len(name) > limit:
        return [
            (
                "metadata.name",
                "FieldValueInvalid",
                f'Invalid value: "{name}": must be no more than {limit} characters',
            )
        ]
    if not pattern.match(name):
        return [("metadata.name", "FieldValueInvalid", f'Invalid value: "{name}": {message}')]
    return []


# -- defaulting ----------------------------------------------------------------------------------


def default_pod_spec(spec: Obj, *, template: bool = False) -> None:
    """The defaults the API server fills into a pod spec (and a pod template's spec)."""
    if not spec.get("restartPolicy"):  # Go defaults an empty string as a missing one
        spec["restartPolicy"] = "Always"
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    if not template:
        spec.setdefault("serviceAccountName", "default")
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
        spec.setdefault("enableServiceLinks", True)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
        spec.setdefault("priority", 0)
        tolerations = spec.setdefault("tolerations", [])
        for extra in DEFAULT_TOLERATIONS:
            if not any(t.get("key") == extra["key"] for t in tolerations):
                tolerations.append(dict(extra))
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        if not isinstance(container, dict):
            continue
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        image = str(container.get("image") or "")
        tagged = ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest")
        container.setdefault(
            "imagePullPolicy", "IfNotPresent" if tagged or "@" in image else "Always"
        )
        resources = container.setdefault("resources", {})
        limits = resources.get("limits") or {}
        if limits:
            requests = resources.setdefault("requests", {})
            for name, value in limits.items():
                requests.setdefault(name, value)
        for port in container.get("ports") or []:
            port.setdefault("protocol", "TCP")


def _qos_class(spec: Obj) -> str:
    containers = spec.get("containers") or []
    resources = [c.get("resources") or {} for c in containers]
    if not any(r.get("requests") or r.get("limits") for r in resources):
        return "BestEffort"
    guaranteed = all(
        (r.get("limits") or {}).get(k) is not None
        and (r.get("requests") or {}).get(k, (r.get("limits") or {}).get(k))
        == (r.get("limits") or {}).get(k)
        for r in resources
        for k in ("cpu", "memory")
    )
    return "Guaranteed" if guaranteed else "Burstable"


def _default_pod(pod: Obj, create: bool) -> None:
    spec = pod.setdefault("spec", {})
    default_pod_spec(spec)
    if create:
        status = pod.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status["qosClass"] = _qos_class(spec)


def _default_job(job: Obj, create: bool) -> None:
    spec = job.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    template = spec.setdefault("template", {})
    default_pod_spec(template.setdefault("spec", {}), template=True)
    if create:
        uid = job["metadata"]["uid"]
        name = job["metadata"].get("name", "")
        selector_labels = {"batch.kubernetes.io/controller-uid": uid}
        spec.setdefault("selector", {"matchLabels": selector_labels})
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        labels.update(
            {
                "batch.kubernetes.io/controller-uid": uid,
                "batch.kubernetes.io/job-name": name,
                "controller-uid": uid,
                "job-name": name,
            }
        )
        job.setdefault("status", {})


def _default_namespace(ns: Obj, create: bool) -> None:
    ns.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    name = ns["metadata"].get("name", "")
    ns["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    if create:
        ns.setdefault("status", {}).setdefault("phase", "Active")


def _default_secret(secret: Obj, _create: bool) -> None:
    secret.setdefault("type", "Opaque")
    string_data = secret.pop("stringData", None) or {}
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _default_service(svc: Obj, _create: bool) -> None:
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        port.setdefault("targetPort", port.get("port"))
    svc.setdefault("status", {}).setdefault("loadBalancer", {})


def _default_service_ip(svc: Obj, ips: Any) -> None:
    spec = svc.setdefault("spec", {})
    if spec.get("clusterIP") != "None" and not spec.get("clusterIP"):
        spec["clusterIP"] = next(ips)
    spec.setdefault("clusterIPs", [spec["clusterIP"]])


def _default_pvc(pvc: Obj, create: bool) -> None:
    pvc.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    if create:
        pvc.setdefault("status", {}).setdefault("phase", "Pending")


def _default_cluster_queue(cq: Obj, _create: bool) -> None:
    spec = cq.setdefault("spec", {})
    spec.setdefault("queueingStrategy", "BestEffortFIFO")
    spec.setdefault("namespaceSelector", {})
    spec.setdefault("stopPolicy", "None")
    spec.setdefault(
        "flavorFungibility",
        {"whenCanBorrow": "MayStopSearch", "whenCanPreempt": "TryNextFlavor"},
    )
    spec.setdefault(
        "preemption",
        {
            "withinClusterQueue": "Never",
            "reclaimWithinCohort": "Never",
            "borrowWithinCohort": {"policy": "Never"},
        },
    )


def _default_local_queue(lq: Obj, _create: bool) -> None:
    lq.setdefault("spec", {}).setdefault("stopPolicy", "None")


def _default_workload(wl: Obj, _create: bool) -> None:
    spec = wl.setdefault("spec", {})
    spec.setdefault("active", True)
    for pod_set in spec.get("podSets") or []:
        if isinstance(pod_set, dict):
            pod_set.setdefault("name", "main")
            pod_set.setdefault("count", 1)


_DEFAULTS: dict[str, Callable[[Obj, bool], None]] = {
    "pods": _default_pod,
    "jobs": _default_job,
    "namespaces": _default_namespace,
    "secrets": _default_secret,
    "services": _default_service,
    "persistentvolumeclaims": _default_pvc,
    "clusterqueues": _default_cluster_queue,
    "localqueues": _default_local_queue,
    "workloads": _default_workload,
}

# -- validation ----------------------------------------------------------------------------------


def _required(field: str) -> Cause:
    return (field, "FieldValueRequired", "Required value")


def validate_pod_spec(spec: Any, path: str) -> list[Cause]:
    if not isinstance(spec, dict):
        return [_required(path)]
    causes: list[Cause] = []
    containers = spec.get("containers")
    if not containers or not isinstance(containers, list):
        causes.append(_required(f"{path}.containers"))
        containers = []
    seen: set[str] = set()
    for kind, items in (
        ("containers", containers),
        ("initContainers", spec.get("initContainers") or []),
    ):
        for i, container in enumerate(items):
            where = f"{path}.{kind}[{i}]"
            if not isinstance(container, dict):
                causes.append(_required(where))
                continue
            name = container.get("name")
            if not name:
                causes.append(_required(f"{where}.name"))
            elif name in seen:
                causes.append(
                    (f"{where}.name", "FieldValueDuplicate", f'Duplicate value: "{name}"')
                )
            elif not _LABEL.match(str(name)):
                causes.append(
                    (f"{where}.name", "FieldValueInvalid", f'Invalid value: "{name}": {_LABEL_MSG}')
                )
            seen.add(str(name))
            if not container.get("image"):
                causes.append(_required(f"{where}.image"))
            causes += _validate_resources(container, where)
            causes += _validate_sub_paths(container, where)
    for i, volume in enumerate(spec.get("volumes") or []):
        claim = volume.get("persistentVolumeClaim") if isinstance(volume, dict) else None
        if isinstance(claim, dict) and not claim.get("claimName"):
            causes.append(_required(f"{path}.volumes[{i}].persistentVolumeClaim.claimName"))
    policy = spec.get("restartPolicy")
    if policy not in _RESTART_POLICIES:
        causes.append(_unsupported(f"{path}.restartPolicy", policy, _RESTART_POLICIES))
    causes += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    causes += _validate_node_affinity(spec.get("affinity"), f"{path}.affinity.nodeAffinity")
    return causes


def _validate_tolerations(tolerations: Any, path: str) -> list[Cause]:
    """Each toleration's operator and effect, as the API server's ValidateTolerations."""
    causes: list[Cause] = []
    for i, toleration in enumerate(tolerations if isinstance(tolerations, list) else []):
        if not isinstance(toleration, dict):
            continue
        where = f"{path}[{i}]"
        operator = toleration.get("operator") or ""
        if operator == "Exists" and toleration.get("value"):
            causes.append(
                (
                    f"{where}.operator",
                    "FieldValueInvalid",
                    f"Invalid value: {_go_toleration(toleration)}: "
                    "value must be empty when `operator` is 'Exists'",
                )
            )
        elif operator not in ("", *_TOLERATION_OPERATORS):
            causes.append(_unsupported(f"{where}.operator", operator, _TOLERATION_OPERATORS))
        effect = toleration.get("effect") or ""
        if effect and effect not in _TAINT_EFFECTS:
            causes.append(_unsupported(f"{where}.effect", effect, _TAINT_EFFECTS))
    return causes


def _go_toleration(toleration: Obj) -> str:
    """The toleration as the real server prints it in this message (Go's %#v of the struct;
    a set tolerationSeconds is a pointer there, printed as an address that varies)."""
    seconds = "(*int64)(nil)" if toleration.get("tolerationSeconds") is None else "(*int64)(0x0)"
    fields = ", ".join(
        f'{name.capitalize()}:"{toleration.get(name) or ""}"'
        for name in ("key", "operator", "value", "effect")
    )
    return f"core.Toleration{{{fields}, TolerationSeconds:{seconds}}}"


def _validate_node_affinity(affinity: Any, path: str) -> list[Cause]:
    """Node selector operators of the required and preferred node affinity terms."""
    node = (affinity or {}).get("nodeAffinity") if isinstance(affinity, dict) else None
    if not isinstance(node, dict):
        return []
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = [
        (f"{path}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}]", term)
        for i, term in enumerate(required.get("nodeSelectorTerms") or [])
    ]
    terms += [
        (
            f"{path}.preferredDuringSchedulingIgnoredDuringExecution[{i}].preference",
            (weighted or {}).get("preference"),
        )
        for i, weighted in enumerate(
            node.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        )
    ]
    causes: list[Cause] = []
    for where, term in terms:
        for j, requirement in enumerate((term or {}).get("matchExpressions") or []):
            operator = (requirement or {}).get("operator")
            if operator not in _NODE_SELECTOR_OPERATORS:
                causes.append(
                    (
                        f"{where}.matchExpressions[{j}].operator",
                        "FieldValueInvalid",
                        f'Invalid value: "{operator or ""}": not a valid selector operator',
                    )
                )
    return causes


def _validate_sub_paths(container: Obj, where: str) -> list[Cause]:
    """A volume mount's subPath stays inside its volume: relative, without '..'."""
    causes = []
    for i, mount in enumerate(container.get("volumeMounts") or []):
        sub = mount.get("subPath") if isinstance(mount, dict) else None
        if not sub:
            continue
        field = f"{where}.volumeMounts[{i}].subPath"
        if str(sub).startswith("/"):
            causes.append(
                (field, "FieldValueInvalid", f'Invalid value: "{sub}": must be a relative path')
            )
        elif ".." in str(sub).split("/"):
            causes.append(
                (field, "FieldValueInvalid", f"Invalid value: \"{sub}\": must not contain '..'")
            )
    return causes


def _validate_resources(container: Obj, where: str) -> list[Cause]:
    """Quantities that parse, are not negative, and requests no larger than their limits."""
    resources = container.get("resources") or {}
    causes: list[Cause] = []
    parsed: dict[str, dict[str, Any]] = {}
    for part in ("limits", "requests"):
        parsed[part] = {}
        for name, value in (resources.get(part) or {}).items():
            field = f"{where}.resources.{part}[{name}]"
            try:
                quantity = parse_quantity(value)
            except ValueError:
                causes.append(
                    (field, "FieldValueInvalid", f'Invalid value: "{value}": must be a quantity')
                )
                continue
            text = str(value).strip()
            parsed[part][name] = (quantity, text)
            if quantity < 0:
                causes.append(
                    (
                        field,
                        "FieldValueInvalid",
                        f'Invalid value: "{text}": must be greater than or equal to 0',
                    )
                )
    for name, (request, text) in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and request > limit[0]:
            causes.append(
                (
                    f"{where}.resources.requests",
                    "FieldValueInvalid",
                    f'Invalid value: "{text}": must be less than or equal to {name} limit of '
                    f"{limit[1]}",
                )
            )
    return causes


def _unsupported(field: str, value: Any, allowed: tuple[str, ...]) -> Cause:
    options = ", ".join(f'"{a}"' for a in allowed)
    return (
        field,
        "FieldValueNotSupported",
        f'Unsupported value: "{value}": supported values: {options}',
    )


def _validate_pod(pod: Obj) -> list[Cause]:
    return validate_pod_spec(pod.get("spec"), "spec")


def _validate_job(job: Obj) -> list[Cause]:
    spec = job.get("spec") or {}
    template_spec = (spec.get("template") or {}).get("spec")
    causes = validate_pod_spec(template_spec, "spec.template.spec")
    causes += _validate_job_restart_policy((template_spec or {}).get("restartPolicy"))
    for field in ("parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"):
        value = spec.get(field)
        if value is not None and (not isinstance(value, int) or value < 0):
            causes.append(
                (
                    f"spec.{field}",
                    "FieldValueInvalid",
                    f"Invalid value: {value}: must be greater than or equal to 0",
                )
            )
    mode = spec.get("completionMode")
    if mode not in (None, "NonIndexed", "Indexed"):
        causes.append(_unsupported("spec.completionMode", mode, ("NonIndexed", "Indexed")))
    if mode == "Indexed" and spec.get("completions") is None:
        causes.append(_required("spec.completions"))
    return causes


def _validate_job_restart_policy(policy: Any) -> list[Cause]:
    """A Job's pods end: Always (what an unset policy defaults to) is answered as a required
    value, any other policy but OnFailure and Never as unsupported (after the pod template's
    own cause for it), as the real server's Job validation does."""
    field, allowed = "spec.template.spec.restartPolicy", ("OnFailure", "Never")
    if policy == "Always":
        options = ", ".join(f'"{a}"' for a in allowed)
        return [(field, "FieldValueRequired", f"Required value: valid values: {options}")]
    return [] if policy in allowed else [_unsupported(field, policy, allowed)]


def _validate_workload(wl: Obj) -> list[Cause]:
    pod_sets = (wl.get("spec") or {}).get("podSets")
    if not pod_sets or not isinstance(pod_sets, list):
        return [_required("spec.podSets")]
    causes = []
    for i, pod_set in enumerate(pod_sets):
        template = (pod_set or {}).get("template") or {}
        causes += validate_pod_spec(
            dict(template.get("spec") or {}, restartPolicy="Never"),
            f"spec.podSets[{i}].template.spec",
        )
    return causes


def _validate_cluster_queue(cq: Obj) -> list[Cause]:
    causes = []
    for i, group in enumerate((cq.get("spec") or {}).get("resourceGroups") or []):
        if not group.get("coveredResources"):
            causes.append(_required(f"spec.resourceGroups[{i}].coveredResources"))
        for j, flavor in enumerate(group.get("flavors") or []):
            where = f"spec.resourceGroups[{i}].flavors[{j}]"
            if not flavor.get("name"):
                causes.append(_required(f"{where}.name"))
            for k, quota in enumerate(flavor.get("resources") or []):
                for limit in ("nominalQuota", "borrowingLimit", "lendingLimit"):
                    causes += _validate_quota(quota.get(limit), f"{where}.resources[{k}].{limit}")
    return causes


def _validate_quota(value: Any, field: str) -> list[Cause]:
    """A quota is a quantity (the CRD schema's pattern); the answer names the field."""
    if value is None:
        return []
    try:
        parse_quantity(value)
    except ValueError:
        pattern = (
            r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
            r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
        )
        return [
            (
                field,
                "FieldValueInvalid",
                f"Invalid value: \"{value}\": {field} in body should match '{pattern}'",
            )
        ]
    return []


def _validate_local_queue(lq: Obj) -> list[Cause]:
    return [] if (lq.get("spec") or {}).get("clusterQueue") else [_required("spec.clusterQueue")]


def _validate_service(svc: Obj) -> list[Cause]:
    ip = (svc.get("spec") or {}).get("clusterIP")
    if ip and ip != "None":
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return [
                (
                    "spec.clusterIP",
                    "FieldValueInvalid",
                    f'Invalid value: "{ip}": must be a valid IP address',
                )
            ]
    return []


_VALIDATORS: dict[str, Callable[[Obj], list[Cause]]] = {
    "pods": _validate_pod,
    "jobs": _validate_job,
    "workloads": _validate_workload,
    "clusterqueues": _validate_cluster_queue,
    "localqueues": _validate_local_queue,
    "services": _validate_service,
}

# -- update rules --------------------------------------------------------------------------------


def _pod_spec_comparable(spec: Obj) -> Obj:
    spec = dict(spec)
    for field in (
        "activeDeadlineSeconds",
        "tolerations",
        "terminationGracePeriodSeconds",
        "nodeName",
    ):
        spec.pop(field, None)
    for kind in ("containers", "initContainers"):
        spec[kind] = [
            {k: v for k, v in c.items() if k != "image"}
            for c in spec.get(kind) or []
            if isinstance(c, dict)
        ]
    return spec


def _check_pod_update(old: Obj, new: Obj) -> list[Cause]:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    if _pod_spec_comparable(old_spec) != _pod_spec_comparable(new_spec):
        causes.append(("spec", "FieldValueForbidden", f"Forbidden: {_POD_MUTABLE_MSG}"))
    old_tolerations = old_spec.get("tolerations") or []
    if any(t not in (new_spec.get("tolerations") or []) for t in old_tolerations):
        causes.append(
            (
                "spec.tolerations",
                "FieldValueForbidden",
                "Forbidden: existing toleration can not be modified except its tolerationSeconds",
            )
        )
    if old_spec.get("nodeName") and new_spec.get("nodeName") != old_spec.get("nodeName"):
        causes.append(("spec.nodeName", "FieldValueForbidden", f"Forbidden: {_POD_MUTABLE_MSG}"))
    return causes


def _check_job_update(old: Obj, new: Obj) -> list[Cause]:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    for field in ("selector", "completionMode"):
        if old_spec.get(field) != new_spec.get(field):
            causes.append(
                (f"spec.{field}", "FieldValueInvalid", "Invalid value: field is immutable")
            )
    if old_spec.get("template") != new_spec.get("template") and not old_spec.get("suspend"):
        causes.append(("spec.template", "FieldValueInvalid", "Invalid value: field is immutable"))
    if old_spec.get("completions") != new_spec.get("completions"):
        causes.append(
            ("spec.completions", "FieldValueInvalid", "Invalid value: field is immutable")
        )
    return causes


_UPDATE_CHECKS: dict[str, Callable[[Obj, Obj], list[Cause]]] = {
    "pods": _check_pod_update,
    "jobs": _check_job_update,
}
