"""``python -m dagforge.cli`` runs the command line."""

from dagforge.cli import main

main()
