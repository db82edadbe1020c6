"""The agent (``cyberscan agent``): rescans on its own and speaks up only when something really changed.

- :mod:`.config`: ``agent.yaml``, validated with line numbers; secrets only from files or the environment.
- :mod:`.schedule`: an interval or a cron expression (croniter).
- :mod:`.rounds`: one round: assess every domain, keep it in the history, compare, confirm, tell.
- :mod:`.alerts`: what is worth a message (pure rules); :mod:`.dates`: what runs out, and when.
- :mod:`.confirm`: a regression is probed again (only the affected checks) before anyone is told.
- :mod:`.messages`: the words (``texts/agent.yaml``); :mod:`.deliver`: e-mail, webhook, outbox.
- :mod:`.runner`: rounds until SIGTERM, or one; :mod:`.lock`: one agent per history at a time.

The agent's own state (rounds, what it knows per finding key, the outbox) lives in the history store
(schema version 2, :mod:`cyberscan.history.agentstore`). See ``docs/agent.md``.
"""
