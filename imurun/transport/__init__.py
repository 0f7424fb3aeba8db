"""imurun.transport."""
