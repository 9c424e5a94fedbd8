"""The claim → generate → encode → store → finish loop, with leases and heartbeats."""
