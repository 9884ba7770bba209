"""Formatting: an :class:`Article` → the Bot API calls that carry it. Pure: no I/O."""
