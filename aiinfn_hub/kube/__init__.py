"""The Kubernetes layer the jobs service and the spawner share: the client (from a kubeconfig or
in-cluster, with retries and request counts: :mod:`.client`), the list+watch cache that fails
fast at start (:mod:`.cache`, :mod:`.startup`), condition helpers (:mod:`.conditions`), the one
quantity parser (:mod:`.quantity`, placement's and the sandbox's too) and the compact form
cached objects are kept in (:mod:`.slim`)."""
