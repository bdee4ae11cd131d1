"""CI-provider specifics."""
