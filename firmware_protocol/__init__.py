"""The imurun wire protocol: frames, messages, CRCs, stored-run blocks. Pure bytes."""
