"""Reinforcement learning: the Catch game (pure JAX functions) and the REINFORCE and baseline losses."""
