"""Blueprints, one module per trigger family. Each parses its binding, calls shared/, returns."""
