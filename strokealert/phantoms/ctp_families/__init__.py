"""Independently written CT perfusion phantom families, held out from the perfusion
analysis's tuning."""
