"""imurun.sim."""
