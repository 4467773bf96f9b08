"""Multipass SSO: an identity hub that moves users between connected apps."""
