"""The `discover` command (the method's 9 steps as a guide)."""
