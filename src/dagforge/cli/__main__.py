"""``python -m dagforge.cli`` runs the command line."""

from dagforge.cli import main

if __name__ == "__main__":
    main()
