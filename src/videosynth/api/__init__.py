"""HTTP dialects over the service: DashScope (+ apiyi paths), signed file downloads, operations."""
