"""The sandbox stands apart from the product: it imitates Kubernetes, Kueue and interLink, and
must not borrow the jobs service's, placement's or the spawner's code (the contract tests would
then prove the product against itself). Read from the source (every import statement, also
those inside functions), following the modules outside the sandbox it does import."""

from __future__ import annotations

from tests.importgraph import first_steps, outside_imports, within

#: The product: what the sandbox stands in for the cluster of.
PRODUCT = (
    "aiinfn_hub.jobs",
    "aiinfn_hub.placement",
    "aiinfn_hub.spawner",
    "aiinfn_hub.serverext",
    "aiinfn_hub.hubconfig",
    "aiinfn_hub.hubprocess",
    "aiinfn_hub.demo",
    "aiinfn_hub.cluster",
)


def test_the_sandbox_imports_nothing_of_the_product() -> None:
    wrong = first_steps(outside_imports("sandbox"), PRODUCT)
    assert not wrong, f"the sandbox imports the product (module: importers): {wrong}"


def test_the_reading_sees_the_shared_helpers_the_sandbox_does_import() -> None:
    # the reading itself works: the helpers the sandbox is known to share are found, through
    # relative imports of several levels (controllers/kueue/ is four levels down)
    reached = outside_imports("sandbox")
    assert "aiinfn_hub.kueuenames" in reached
    assert "aiinfn_hub.sandbox.controllers.kueue.words" in reached["aiinfn_hub.kueuenames"]
    assert "aiinfn_hub.children" in reached
    assert not within("aiinfn_hub.kueuenames", PRODUCT)
    assert within("aiinfn_hub.jobs.manager", PRODUCT)
