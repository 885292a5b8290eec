"""The audit log: an append-only record of who changed what (CONTRACT-2 "Audit log")."""
