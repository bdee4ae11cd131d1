"""Detection rules (the Beacon threat-rule format), budgets and findings.

Nothing here is imported by ``ci exec`` until a run has something to
evaluate: the builtin pack is loaded only when the run's log holds an agent
event (see :mod:`beacon.rules.stage`).
"""
