"""Extra click commands, registered on the main group at the bottom of ``cli.py``."""
