"""DEN's sector hub: anonymous readiness summaries in, a sector picture out (``pip install cyberscan[hub]``).

A Django project (settings in :mod:`cyberscan.hub.settings`, configured from ``CYBERSCAN_HUB_*``
environment variables by :mod:`cyberscan.hub.serve`), with a django-ninja API, an admin for DEN staff
and a dashboard. Nothing here is imported by the base install: ``cyberscan hub ...`` loads it on
demand. :mod:`cyberscan.hub.disclosure` (small groups never show) and :mod:`cyberscan.hub.aggregates`
are pure and need no Django. See docs/hub.md.
"""
