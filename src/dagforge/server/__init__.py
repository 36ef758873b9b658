"""The workflow platform: HTTP gateway, registries, priority dispatch, journal."""
