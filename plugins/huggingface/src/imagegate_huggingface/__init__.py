"""imagegate provider plugin for huggingface (being built)."""
