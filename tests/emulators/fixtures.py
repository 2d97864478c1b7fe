"""pytest fixtures that start the provider emulators on free loopback ports (being built)."""
