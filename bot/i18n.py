"""Every user-facing string, in Simplified Chinese (default) and English.

One catalog module rather than gettext files: the bot has two languages and a
few dozen strings, and a missing key is a test failure here, not a silent
fallback at run time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_LANG = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "read_full": {"zh": "阅读全文", "en": "Read full text"},
    "original": {"zh": "原文", "en": "Original"},
    "announcement": {"zh": "通知", "en": "Announcement"},
    "updated_at": {"zh": "已更新 {time}", "en": "Updated {time}"},
    "withdrawn_notice": {"zh": "此通知已撤回", "en": "This notice was withdrawn"},
    "removed_part": {
        "zh": "（此部分已在更正中删去）",
        "en": "(This part was removed by a correction.)",
    },
    "chat_held": {
        "zh": "无法向「{chat}」发送通知：{reason}。通知已暂存，恢复后会自动补发。",
        "en": "Notices cannot be sent to “{chat}”: {reason}. They are held and will go out once it is possible again.",
    },
    "withdrawals_held": {
        "zh": "⚠️ 文件夹 {folder} 中 {count} 篇通知的文件一下子都不见了。这更像是文件夹暂时"
        "无法访问（尚未挂载、同步或检出进行中），所以这些通知暂不撤回；如果 {minutes} 分钟后"
        "文件仍未出现，将自动撤回。要立即撤回，请运行 noticebot scan --withdraw。",
        "en": "⚠️ The files of {count} notices in {folder} disappeared at once. That looks "
        "more like the folder being briefly unavailable (not mounted yet, a sync or checkout "
        "under way) than withdrawals, so they are not withdrawn yet; if the files are still "
        "missing after {minutes} minutes, they will be. To withdraw them now, run "
        "noticebot scan --withdraw.",
    },
    "broken_post": {
        "zh": "⚠️ 文件 {file} 无法读取，这一版本没有发出：{reason}。修改并保存后会重新读取。",
        "en": "⚠️ The file {file} could not be read, so this version was not sent: {reason}. "
        "It is read again once it is corrected and saved.",
    },
    "broken_posts_more": {
        "zh": "⚠️ 另有 {count} 个文件无法读取，详见 noticebot status。",
        "en": "⚠️ {count} more files could not be read: see noticebot status.",
    },
    "unconfigured_folders": {
        "zh": "（已不在配置中的文件夹）",
        "en": "(folders no longer configured)",
    },
    "expired_mark": {"zh": "已过期", "en": "expired"},
    "pin_refused": {
        "zh": "⚠️ 机器人没有置顶消息的权限，紧急通知无法置顶。请在群组或频道设置中授予"
        "“置顶消息”权限。",
        "en": "⚠️ The bot may not pin messages here, so urgent notices are not pinned. "
        "Give it the right to pin messages in the group or channel settings.",
    },
    # command menu
    "cmd_start": {"zh": "开始使用", "en": "Welcome"},
    "cmd_help": {"zh": "命令列表", "en": "List of commands"},
    "cmd_subscribe": {"zh": "订阅通知（可加关键词）", "en": "Subscribe (optionally to keywords)"},
    "cmd_unsubscribe": {"zh": "取消订阅", "en": "Unsubscribe"},
    "cmd_latest": {"zh": "最新通知", "en": "Latest notices"},
    "cmd_read": {"zh": "阅读一篇通知", "en": "Read a notice"},
    "cmd_search": {"zh": "搜索通知", "en": "Search notices"},
    "cmd_settings": {"zh": "设置", "en": "Settings"},
    "cmd_broadcast": {"zh": "向所有订阅者推送一篇通知", "en": "Send a notice to all subscribers"},
    "cmd_announce": {"zh": "向所有订阅者发布公告", "en": "Send an announcement to all"},
    "cmd_stats": {"zh": "运行统计", "en": "Statistics"},
    # replies
    "welcome": {
        "zh": "您好！我是社区通知机器人，会把街道和居委会发布的通知送到这里。\n\n"
        "发送 /subscribe 订阅全部通知，或 /subscribe 停水 停电 只订阅相关通知。\n"
        "/latest 查看最新通知，/search 关键词 搜索，/settings 设置接收方式和语言，/help 查看全部命令。",
        "en": "Hello! I bring the notices of your street office and residents' committee "
        "to this chat.\n\nSend /subscribe for all notices, or /subscribe water power "
        "for matching ones only.\n/latest shows the newest, /search words searches, "
        "/settings sets delivery and language, /help lists every command.",
    },
    "help": {
        "zh": "命令：\n/subscribe [关键词] — 订阅\n/unsubscribe — 取消订阅\n"
        "/latest [数量] — 最新通知\n/read 编号 — 阅读通知\n/search 关键词 — 搜索\n"
        "/settings — 接收方式、语言、免打扰时段、关键词",
        "en": "Commands:\n/subscribe [words] — subscribe\n/unsubscribe — unsubscribe\n"
        "/latest [n] — latest notices\n/read id — read a notice\n/search words — search\n"
        "/settings — delivery mode, language, quiet hours, keywords",
    },
    "help_admin": {
        "zh": "\n\n管理员命令：\n/broadcast 编号 — 推送通知给所有订阅者\n"
        "/announce 文字 — 发布公告\n/stats — 运行统计",
        "en": "\n\nAdmin commands:\n/broadcast id — send a notice to all subscribers\n"
        "/announce text — send an announcement\n/stats — statistics",
    },
    "subscribed": {
        "zh": "已订阅：新通知会发送到这里。",
        "en": "Subscribed: new notices will be sent here.",
    },
    "subscribed_words": {
        "zh": "已订阅与以下关键词相关的通知：{words}",
        "en": "Subscribed to notices about: {words}",
    },
    "subscribed_topic": {
        "zh": "（本话题）",
        "en": " (this topic)",
    },
    "subscribed_channel": {
        "zh": "频道 {channel} 已订阅。",
        "en": "Channel {channel} is subscribed.",
    },
    "unsubscribed": {"zh": "已取消订阅。", "en": "Unsubscribed."},
    "not_subscribed": {"zh": "这里还没有订阅。", "en": "This chat is not subscribed."},
    "admins_only": {
        "zh": "抱歉，只有本群管理员可以更改订阅。",
        "en": "Sorry, only this group's administrators can change the subscription.",
    },
    "channel_not_admin": {
        "zh": "无法订阅 {channel}：您和机器人都必须是该频道的管理员。",
        "en": "Cannot subscribe {channel}: both you and the bot must be its administrators.",
    },
    "latest_title": {"zh": "最新通知：", "en": "Latest notices:"},
    "latest_empty": {"zh": "还没有通知。", "en": "No notices yet."},
    "read_usage": {"zh": "用法：/read 编号（见 /latest）", "en": "Usage: /read id (see /latest)"},
    "not_found": {
        "zh": "找不到编号为 {id} 的通知。发送 /latest 查看最新通知。",
        "en": "No notice with id {id}. Send /latest to see the newest.",
    },
    "sent_privately": {"zh": "全文已私信发送给您。", "en": "Sent to you in a private chat."},
    "read_in_private": {
        "zh": "全文请在私聊中阅读：点击下方按钮，再点“开始”。",
        "en": "Read the full text in a private chat: tap the button, then Start.",
    },
    "btn_read_privately": {"zh": "私聊阅读全文", "en": "Read privately"},
    "search_usage": {"zh": "用法：/search 关键词", "en": "Usage: /search words"},
    "search_too_slow": {
        "zh": "这次搜索太慢，已停止。请换更具体的关键词再试。",
        "en": "That search took too long and was stopped. Try more specific words.",
    },
    "search_empty": {
        "zh": "没有找到与「{query}」相关的通知。",
        "en": "Nothing found for “{query}”.",
    },
    "search_title": {"zh": "「{query}」的搜索结果：", "en": "Results for “{query}”:"},
    "hint": {
        "zh": "请发送命令，例如 /latest 或 /help。",
        "en": "Please send a command, e.g. /latest or /help.",
    },
    "group_greeting": {
        "zh": "大家好！我是社区通知机器人。群管理员发送 /subscribe 即可在本群接收通知。",
        "en": "Hello! I am the community notice bot. A group administrator can send "
        "/subscribe to receive notices here.",
    },
    "throttled": {
        "zh": "操作太频繁，请稍后再试。",
        "en": "Too many requests; please try again in a moment.",
    },
    "refused": {
        "zh": "抱歉，此命令仅限管理员使用。",
        "en": "Sorry, this command is for admins only.",
    },
    # settings
    "settings_title": {
        "zh": "设置\n接收方式：{mode}\n语言：中文\n免打扰：{quiet}\n关键词：{filters}",
        "en": "Settings\nDelivery: {mode}\nLanguage: English\nQuiet hours: {quiet}\n"
        "Keywords: {filters}",
    },
    "mode_card": {"zh": "仅摘要卡片", "en": "card only"},
    "mode_full": {"zh": "卡片 + 全文", "en": "card + full text"},
    "mode_digest": {"zh": "每日汇总 {time}", "en": "daily digest at {time}"},
    "quiet_off": {"zh": "关闭", "en": "off"},
    "filters_none": {"zh": "全部通知", "en": "all notices"},
    "btn_card": {"zh": "仅卡片", "en": "Card only"},
    "btn_full": {"zh": "卡片+全文", "en": "Card + text"},
    "btn_digest": {"zh": "每日汇总", "en": "Daily digest"},
    "btn_quiet": {"zh": "免打扰 22:00–07:00", "en": "Quiet 22:00–07:00"},
    "btn_quiet_off": {"zh": "关闭免打扰", "en": "Quiet hours off"},
    "btn_filters_clear": {"zh": "清除关键词", "en": "Clear keywords"},
    "settings_filters_hint": {
        "zh": "修改关键词：发送 /subscribe 关键词1 关键词2",
        "en": "To change keywords, send /subscribe word1 word2",
    },
    "saved": {"zh": "已保存", "en": "Saved"},
    "settings_admins_only": {
        "zh": "抱歉，只有管理员可以更改这里的设置。",
        "en": "Sorry, only administrators can change the settings here.",
    },
    "button_invalid": {"zh": "无效的按钮。", "en": "This button does nothing."},
    # digest
    "digest_title": {"zh": "今日通知汇总（{count} 篇）：", "en": "Today's notices ({count}):"},
    # admin
    "broadcast_usage": {"zh": "用法：/broadcast 编号", "en": "Usage: /broadcast id"},
    "announce_usage": {
        "zh": "用法：/announce 公告内容（第一行全部加粗即为标题；可用加粗、链接和列表）",
        "en": "Usage: /announce text (a first line all in bold is the title; bold, links"
        " and lists are kept)",
    },
    "announce_unreadable": {
        "zh": "公告无法保存：{reason}",
        "en": "The announcement could not be saved: {reason}",
    },
    "broadcast_confirm": {
        "zh": "将推送给 {count} 个订阅者。确认吗？",
        "en": "This goes to {count} subscribers. Send it?",
    },
    "broadcast_confirm_one": {
        "zh": "将推送给 1 个订阅者。确认吗？",
        "en": "This goes to 1 subscriber. Send it?",
    },
    "broadcast_nobody": {
        "zh": "所有订阅者都已收到或即将收到这篇通知，无需再推送。",
        "en": "Every subscriber has this notice already, or will shortly: nothing to send.",
    },
    "btn_confirm": {"zh": "确认发送", "en": "Confirm"},
    "btn_cancel": {"zh": "取消", "en": "Cancel"},
    "broadcast_cancelled": {"zh": "已取消，没有发送。", "en": "Cancelled; nothing was sent."},
    "confirm_not_yours": {
        "zh": "只有发起人可以确认。",
        "en": "Only the admin who asked can confirm.",
    },
    "broadcast_expired": {
        "zh": "此确认已失效，请重新发送命令。",
        "en": "This confirmation has expired; send the command again.",
    },
    "broadcast_progress": {
        "zh": "推送中：已发送 {sent}，失败 {failed}，已停用 {deactivated}，剩余 {remaining}",
        "en": "Sending: {sent} sent, {failed} failed, {deactivated} deactivated, "
        "{remaining} remaining",
    },
    "broadcast_done": {
        "zh": "推送完成：已发送 {sent}，失败 {failed}，已停用 {deactivated}。",
        "en": "Done: {sent} sent, {failed} failed, {deactivated} deactivated.",
    },
    # ledger statuses, as /stats shows them
    "status_active": {"zh": "有效", "en": "active"},
    "status_withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "status_invalid": {"zh": "无法读取", "en": "unreadable"},
    "status_announcement": {"zh": "公告", "en": "announcements"},
    "status_queued": {"zh": "待发送", "en": "queued"},
    "status_sending": {"zh": "发送中", "en": "sending"},
    "status_sent": {"zh": "已发送", "en": "sent"},
    "status_retracted": {"zh": "已撤回", "en": "retracted"},
    "status_failed": {"zh": "失败", "en": "failed"},
    "status_skipped": {"zh": "已跳过", "en": "skipped"},
    "none": {"zh": "无", "en": "none"},
    "stats": {
        "zh": "通知：{articles}\n订阅：有效 {active}，已停用 {inactive}\n"
        "投递：{deliveries}\n已送达的通知：更正 {edits} 次，撤回 {retracted}，置顶中 {pinned}\n"
        "近 24 小时失败：{failures}",
        "en": "Notices: {articles}\nChats: {active} active, {inactive} inactive\n"
        "Deliveries: {deliveries}\nDelivered copies: {edits} edits, {retracted} retracted, "
        "{pinned} pinned now\nFailures in the last 24 h: {failures}",
    },
}

_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def t(key: str, lang: str, **values: object) -> str:
    """The string ``key`` in ``lang`` (Chinese when the language is unknown)."""
    texts = MESSAGES[key]
    text = texts.get(lang) or texts[DEFAULT_LANG]
    return text.format(**values) if values else text


def language_for(telegram_code: str | None, default: str) -> str:
    """A user's Telegram language when we speak it (zh*, en*), else the default."""
    code = (telegram_code or "").lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return default


def format_counts(counts: dict[str, int], empty: str = "0") -> str:
    """``{"sent": 3, "failed": 1}`` → ``failed 1, sent 3``: ledger words, for operators."""
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or empty


def format_statuses(counts: dict[str, int], lang: str) -> str:
    """``{"sent": 3, "failed": 1}`` → ``已发送 3，失败 1`` / ``3 sent, 1 failed``: for people."""
    if not counts:
        return t("none", lang)
    if lang == "en":
        return ", ".join(f"{n} {t(f'status_{key}', lang)}" for key, n in sorted(counts.items()))
    return "，".join(f"{t(f'status_{key}', lang)} {n}" for key, n in sorted(counts.items()))


def format_datetime(moment: datetime, lang: str, tz: ZoneInfo) -> str:
    """``2022年2月1日 16:57`` or ``1 Feb 2022, 16:57`` in the display time zone."""
    local = moment.astimezone(tz)
    if lang == "en":
        return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
