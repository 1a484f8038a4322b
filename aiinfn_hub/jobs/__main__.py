"""``python -m aiinfn_hub.jobs``: run the jobs service."""

from .app import main

main()
