"""Regime: rule packs and the rules they parametrise — the STF/PSF funding gate, the SOF
finance score and overrides, segmentation triggers and the CIP evidence bands.

Imports only the bottom layer. Every value that changed from year to year lives in a pack
(``cipmodel/rules/*.toml``), never in code.
"""
