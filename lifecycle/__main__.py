"""The command line: `python -m lifecycle --help` lists the commands (lifecycle/cli.py)."""
from lifecycle.cli import main

main()
