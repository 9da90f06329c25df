"""The append-only PHI access log (HIPAA audit trail): who (user, role) did what to which
object, when and from where; written by the web app and the CLI, read by admins."""
