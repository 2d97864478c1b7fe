"""imagegate provider plugin for modelscope (being built)."""
