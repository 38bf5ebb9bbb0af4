"""Engine: the model on arrays shaped ``(draw, trust, month)`` — compile a portfolio, project
it, compute the SOF metrics, assess funding and score, and solve for the CIP needed.

Imports ``inputs``, ``regime`` and the bottom layer. One engine serves plan runs (one draw at
planned values) and simulation.
"""
