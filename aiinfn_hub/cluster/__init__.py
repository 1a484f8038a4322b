"""The real Kubernetes control plane on one machine (``aiinfn-hub cluster``)."""
