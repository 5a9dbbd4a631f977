"""Models: pure linen modules, one idea each; `registry.build(config.model, **sizes)` makes any of them by name."""
