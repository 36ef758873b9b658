"""``python -m dagforge`` runs the command line."""

from dagforge.cli import main

if __name__ == "__main__":
    main()
