"""The dependency arrows point one way: placement, then the Kubernetes layer, then the jobs
service, then the spawner and the server extension. The spawner runs in the hub and shares
with the jobs service only the layers below both (what they must agree on, such as how
KubeSpawner names a user's claim, lives in ``aiinfn_hub.kube``), never the service's
internals. Read from the source, following what the spawner's imports import in turn."""

from __future__ import annotations

from tests.importgraph import first_steps, outside_imports

JOBS = ("aiinfn_hub.jobs",)


def test_the_spawner_imports_nothing_of_the_jobs_service() -> None:
    wrong = first_steps(outside_imports("spawner"), JOBS)
    assert not wrong, f"the spawner imports the jobs service (module: importers): {wrong}"


def test_the_kubernetes_layer_imports_nothing_above_it() -> None:
    above = ("aiinfn_hub.jobs", "aiinfn_hub.spawner", "aiinfn_hub.serverext")
    wrong = first_steps(outside_imports("kube"), above)
    assert not wrong, f"the Kubernetes layer imports what builds on it: {wrong}"


def test_the_reading_sees_the_claim_naming_the_spawner_shares() -> None:
    reached = outside_imports("spawner")
    assert "aiinfn_hub.spawner.wiring" in reached["aiinfn_hub.kube.claimnaming"]
