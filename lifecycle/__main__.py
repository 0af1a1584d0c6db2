"""Command line: `python -m lifecycle serve` and `python -m lifecycle expire`."""
from lifecycle.cli import main

main()
