"""The hub's base layer: what every feature package builds on, and nothing more.

- :mod:`.clock`: the injectable clock (time is a parameter, tests replace it);
- :mod:`.db`: the SQLAlchemy handle and the declarative base of every model;
- :mod:`.errors`: the hub's one exception family (no Flask);
- :mod:`.identity`: how logins and e-mails are cleaned and compared (pure);
- :mod:`.redirects`: where a browser (and a token) may be sent (pure);
- :mod:`.access`: who may open an admin page;
- :mod:`.extensions`: the Flask extensions other than the database, created unbound.

Modules here import nothing from the feature packages. ``clock``, ``errors``,
``identity`` and ``redirects`` import no framework at all (the reference app uses them).
"""
