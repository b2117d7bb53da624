"""In-memory Ory emulator (Kratos + Hydra, Ory Network layout) for development and tests."""
