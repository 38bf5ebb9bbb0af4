"""Report: plots (matplotlib, an optional extra) of plan runs and simulations.

Imports ``montecarlo`` and below; nothing imports it but the CLI and the public API.
"""
