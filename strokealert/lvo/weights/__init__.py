"""Shipped LVO model weights (``lvo_vessels.json``) and their ``MODEL_CARD.md`` (package data)."""
