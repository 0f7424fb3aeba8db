"""imurun.report."""
