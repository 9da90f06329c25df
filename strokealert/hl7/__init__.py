"""HL7 v2 feeds over MLLP, one stage per module: ``mllp`` (the listener: frames in, ACKs out),
``receive`` (store raw, apply, commit, then ACK; idempotent on MSH-10), ``parse`` (message to
timeline times), ``match`` (the case: MRN + accession or visit number; a code-stroke arrival
opens one), ``ack`` (AA/AE/AR). Imports the database, the cases' timeline rules and the audit
log; nothing of the web app."""
