"""The neural tool: learned transform codec, entropy models, training, online optimisation, patch coding."""
