"""Connected apps (Multipass services): settings, encrypted secrets, admin pages and CLI."""
