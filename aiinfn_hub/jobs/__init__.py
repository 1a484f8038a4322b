"""The hub-side jobs service: job model, REST API, Kubernetes backend and fallback controller."""
