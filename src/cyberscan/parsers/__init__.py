"""Parsers turn text from the network into structure. Pure and total: they never raise on input."""
