"""The run lifecycle: ``ci exec``, the session commands and their daemon, the shared finish."""
