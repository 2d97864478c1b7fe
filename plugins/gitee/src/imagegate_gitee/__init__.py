"""imagegate provider plugin for gitee (being built)."""
