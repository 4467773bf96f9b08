"""Example applications that use Multipass SSO's public API (see ``examples/invoicing``)."""
