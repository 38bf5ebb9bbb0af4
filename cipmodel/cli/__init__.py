"""The ``cipmodel`` command line: parse, call the library, format. No model logic here.

::

    app         the group, --version, the commands by name (imported on use), main()
    errors      the one error mapping: located problems or ``Error: ...``, exit code 2
    options     shared arguments and options, output-path check, load, results workbook
    output      terminal output of a plan run and a simulation
    plan        template, validate, run, solve
    simulate    simulate, and solve --probability
    score       score
    portfolio   portfolio (sector tables)
    report      report (the board report, PDF)
    demo        demo
    reference   the generated reference (docs/cli.md)

Importing this package loads click and a few light modules only: no numpy, pandas, scipy
or matplotlib until a command needs them.
"""

from cipmodel.cli.app import cli, main

__all__ = ["cli", "main"]
