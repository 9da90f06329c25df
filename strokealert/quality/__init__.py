"""Stroke care quality: door-to-needle and door-to-groin measures to the registry
definitions, their charts, and the `strokealert report` / dashboard report."""
