"""Results: plan runs (:func:`~cipmodel.results.run.run_plan`) and their result objects, the
tables and the ``run --json`` contract drawn from them, sector tables and the calibration
check of the synthetic national portfolio.

Imports ``examples``, ``engine`` and below.
"""
