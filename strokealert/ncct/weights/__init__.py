"""Shipped blood segmentation network weights (``ich_net.pt``) and their training metadata
(``ich_net.json``) (package data)."""
