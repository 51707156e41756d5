"""Training of the neural tools (float models, data, export): never imported by the decoder."""
