"""exec and port-forward over WebSocket, for the sandbox's API server and the node agents of
``aiinfn-hub cluster`` alike (:mod:`.fronts` says where a request comes in, :mod:`.targets`
what the kubelet checks, :mod:`.exec_handler` and :mod:`.forward_handler` serve them)."""

from .exec_handler import ExecHandler
from .forward_handler import PortForwardHandler
from .fronts import ApiFront, KubeletFront
from .targets import INTERLINK_REFUSAL

__all__ = ["INTERLINK_REFUSAL", "ApiFront", "ExecHandler", "KubeletFront", "PortForwardHandler"]
