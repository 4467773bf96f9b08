"""OpenID Connect provider: the hub's second sign-on protocol, built on authlib's server parts.

Clients are connected apps with ``protocol = "oidc"``; everything OIDC-specific (redirect
URIs, hashed client secrets, codes, tokens, signing keys, consents, back-channel logout)
lives here. See docs/oidc.md.
"""
