"""The layout of the configs, as far as old workdirs need it: fields that moved from config.model to a block of
their own (November 2026). Read by the model registry (a moved field is refused with its new name) and by
`training.workdir.upgrade` (an old config.json is read in today's layout); neither layer imports the other."""

# old config.model field -> where it lives now
MOVED = {"glimpse_size": "model.glimpse.size", "num_scales": "model.glimpse.num_scales",
         "glimpse_hidden": "model.glimpse.what_hidden", "location_hidden": "model.glimpse.where_hidden",
         "glimpse_output": "model.glimpse.output", "glimpse_pooling": "model.glimpse.pooling",
         "num_samples": "reinforce.num_samples", "eval_samples": "reinforce.eval_samples",
         "reinforce_weight": "reinforce.weight", "discount": "reinforce.discount",
         "entropy_weight": "reinforce.entropy_weight"}
