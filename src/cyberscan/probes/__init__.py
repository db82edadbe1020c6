"""Probes do the network I/O and return frozen facts. They never decide pass or fail."""
