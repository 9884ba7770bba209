"""noticebot: redistributes community notices (Hexo articles) to Telegram chats."""

__version__ = "0.1.0"
