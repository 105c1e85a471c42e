"""Built-in escalation rules (builtin.yaml)."""
