"""Pipeline: completion events → durable jobs → perfusion / LVO → decision → case and alert."""
