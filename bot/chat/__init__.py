"""Chat handlers: what residents and admins say to the bot, and what it answers."""
