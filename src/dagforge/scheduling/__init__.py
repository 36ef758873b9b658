"""Scheduling policies (priority keys, upward rank) and the makespan simulator."""
