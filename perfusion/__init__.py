"""perfusion."""
