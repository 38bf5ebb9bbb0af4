"""Inputs: the schema, the validated input records (:class:`~cipmodel.inputs.records.Portfolio`)
and scenario files.

Imports only the bottom layer (``errors``, ``calendar``, ``formatting``). Everything above
builds on these records; nothing here computes a result.
"""
