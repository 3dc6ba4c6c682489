"""Developer tooling for vcaudit: test doubles and generators that are not product code."""
