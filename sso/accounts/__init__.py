"""User accounts: model, service functions, login views, admin pages and CLI."""
