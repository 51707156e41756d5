"""User tools: the command line, the demo, plots and the bitstream inspector."""
