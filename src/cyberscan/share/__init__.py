"""Sharing an anonymous readiness summary with DEN's sector hub, and placing oneself against the sector.

``summary`` turns an :class:`~cyberscan.assessment.Assessment` into the anonymous summary that may be
shared (published JSON Schema: ``schema/submission.schema.json``); ``identity`` keeps the random
pseudonymous organisation id; ``client`` talks to a hub; ``compare`` places an organisation against the
hub's published aggregates, locally. See docs/hub.md.
"""
