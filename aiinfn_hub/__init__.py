"""aiinfn_hub: JupyterHub on Kubernetes for AI_INFN, with background jobs placed across sites."""

__version__ = "0.1.0"
