"""Environments for the attention agents, as pure functions of explicit state and keys."""
