"""The shipped ASPECTS region atlas (``aspects_atlas.npz``) and its builder (``build.py``)."""
