"""``python -m dagforge`` runs the command line."""

from dagforge.cli import main

main()
