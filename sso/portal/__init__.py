"""The home page and the top menu shown on every page."""
