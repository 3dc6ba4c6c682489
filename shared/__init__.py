"""vcaudit's domain: pure, typed, importable without azure.functions."""
