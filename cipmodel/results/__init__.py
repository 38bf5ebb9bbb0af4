"""Results: plan runs and the outputs drawn from them.

One direction, top to bottom:

- :mod:`~cipmodel.results.calibration`: the calibration check of the synthetic national
  portfolio (targets as data, what a portfolio achieves);
- :mod:`~cipmodel.results.sector`: sector tables by trust type;
- :mod:`~cipmodel.results.run`: :func:`~cipmodel.results.run.run_plan` and
  :class:`~cipmodel.results.run.RunResult`;
- :mod:`~cipmodel.results.contract` (the ``run --json`` contract) and
  :mod:`~cipmodel.results.tables` (the DataFrame views): renderers, each of the same figures;
- :mod:`~cipmodel.results.figures`: a run's figures, computed once from the projection, the
  solve and the assessment;
- :mod:`~cipmodel.results.provenance`: provenance and the input hash;
- :mod:`~cipmodel.results.headlines`: what the board is told in words (the headline and
  the sentences behind it), one source for the results workbook's Board summary and the
  board report.

Imports ``examples``, ``engine`` and below.
"""
