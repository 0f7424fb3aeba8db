"""Talking to a sensor over any transport: requests, live streaming, after-run sync.

From Python, start with :mod:`imurun.device.connect`: ``serial_connection`` / ``ble_connection``,
then ``stream_to_file`` / ``sync_to_folder`` (docs/api.md, "Talking to a sensor").
"""
