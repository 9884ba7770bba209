"""Reading: an article file (front matter, Markdown or HTML body) → an :class:`Article`."""
