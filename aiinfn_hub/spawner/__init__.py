"""AIInfnSpawner and its parts: profiles, the shared cluster view, progress, sessions."""

from .clusterview import ClusterView, GpuCount
from .profiles import AUTOMATIC, OptionsError, gpu_slug, validate_options
from .spawner import AIInfnSpawner

__all__ = [
    "AUTOMATIC",
    "AIInfnSpawner",
    "ClusterView",
    "GpuCount",
    "OptionsError",
    "gpu_slug",
    "validate_options",
]
