"""`ConfigError`: what is wrong with the configuration (environment or policy files), every
problem at once, one line each. Raised at start-up and by `gateway check`, never for a request."""

from __future__ import annotations


class ConfigError(Exception):
    """Start-up configuration problems; one line per problem, all of them at once."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
