"""Evaluators are pure: (facts, params) -> verdicts. No sockets, clock or files."""
