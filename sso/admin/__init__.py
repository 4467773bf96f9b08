"""Admin pages that read across features (the audit log names users); nothing imports this."""
