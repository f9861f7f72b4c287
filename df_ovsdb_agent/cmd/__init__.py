"""Console entry points: the only code that reads a global ConfigOpts."""
