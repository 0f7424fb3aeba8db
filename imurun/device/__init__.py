"""Talking to a sensor over any transport: requests, live streaming, after-run sync."""
