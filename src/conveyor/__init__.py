"""conveyor."""
