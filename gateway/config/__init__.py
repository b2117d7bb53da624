"""Configuration: the one door to the environment, read and validated once at start-up."""
