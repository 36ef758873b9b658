"""dagforge."""
