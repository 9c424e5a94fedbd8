"""Content safety: an optional check of a create's prompts before its task is queued (README: Content safety)."""
