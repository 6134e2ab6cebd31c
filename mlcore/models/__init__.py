"""The networks and the registry that builds them by name."""
