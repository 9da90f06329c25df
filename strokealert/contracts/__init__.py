"""Typed data contracts that leave the service (their JSON Schemas are checked in beside them)."""
