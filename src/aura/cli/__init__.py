"""The ``aura`` command line: one module per command group."""
