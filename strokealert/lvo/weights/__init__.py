"""Shipped LVO model weights (``lvo_mipnet.pt``) and their ``MODEL_CARD.md`` (package data)."""
