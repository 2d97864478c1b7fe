"""imagegate provider plugin for a4f (being built)."""
