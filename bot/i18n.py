"""Every user-facing string, in Simplified Chinese (default) and English.

One catalog module rather than gettext files: the bot has two languages and a
few dozen strings, and a missing key is a test failure here, not a silent
fallback at run time.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

DEFAULT_LANG = "zh"
LANGUAGES = ("zh", "en")

MESSAGES: dict[str, dict[str, str]] = {
    # cards
    "read_full": {"zh": "阅读全文", "en": "Read full text"},
    "original": {"zh": "🔗 网页版", "en": "🔗 On the web"},
    "announcement": {"zh": "社区公告", "en": "Announcement"},
    "urgent_mark": {"zh": "🔴 紧急", "en": "🔴 Urgent"},
    "updated_at": {"zh": "🔄 已于{time}更新", "en": "🔄 Updated {time}"},
    "expired_notice": {
        "zh": "⏰ 此通知已过期，仅供查阅。",
        "en": "⏰ This notice has expired; it is kept for reference.",
    },
    "withdrawn_notice": {
        "zh": "⚠️ 此通知已撤回，请以最新通知为准。",
        "en": "⚠️ This notice was withdrawn; please follow the latest notices.",
    },
    "removed_part": {
        "zh": "（此部分已在更正中删去）",
        "en": "(This part was removed by a correction.)",
    },
    # confirmations
    "ack_button": {"zh": "✅ 收到", "en": "✅ Got it"},
    "ack_button_count": {"zh": "✅ 收到 · {count}", "en": "✅ Got it · {count}"},
    "ack_thanks": {"zh": "已确认收到，谢谢！", "en": "Confirmed. Thank you!"},
    "ack_already": {"zh": "已确认 {time}", "en": "Already confirmed at {time}"},
    "ack_withdrawn": {
        "zh": "此通知已撤回，无需确认。",
        "en": "This notice was withdrawn; there is nothing to confirm.",
    },
    "ack_expired": {
        "zh": "此通知已过期，无需确认。",
        "en": "This notice has expired; there is nothing to confirm.",
    },
    "ack_not_asked": {
        "zh": "此通知无需确认。",
        "en": "This notice does not ask to be confirmed.",
    },
    "ack_reminder": {"zh": "请确认已阅读：{title}", "en": "Please confirm you have read: {title}"},
    "ack_reminder_group": {
        "zh": "请确认已阅读：{title}\n已有 {count} 人确认，未确认的请点击通知下方的“✅ 收到”。",
        "en": "Please confirm you have read: {title}\n{count} people have confirmed; if you "
        "have not, press “✅ Got it” under the notice.",
        "en_one": "Please confirm you have read: {title}\n1 person has confirmed; if you "
        "have not, press “✅ Got it” under the notice.",
    },
    "btn_ask_ack": {"zh": "需要确认：否", "en": "Ask to confirm: no"},
    "ack_asks_already": {
        "zh": "这条通知已在征求确认；如需重新征求，请用 /acks 编号 重新确认。",
        "en": "This notice already asks to be confirmed; to ask again, use /acks ID renew.",
    },
    "btn_ask_ack_on": {"zh": "需要确认：是 ✅", "en": "Ask to confirm: yes ✅"},
    "acks_usage": {
        "zh": "用法：/acks 列出需要确认的通知；/acks 编号 查看谁已确认；/acks 编号 重新确认 重新征求确认。",
        "en": "Usage: /acks lists notices that ask to be confirmed; /acks ID shows who "
        "confirmed; /acks ID renew asks again.",
    },
    "acks_none": {
        "zh": "还没有需要确认的通知。",
        "en": "No notice asks to be confirmed yet.",
    },
    "acks_list_title": {"zh": "需要确认的通知：", "en": "Notices that ask to be confirmed:"},
    "acks_list_line": {
        "zh": "{title}\n  已确认 {confirmed} 人 · 已发送至 {reached} 个聊天 · /acks {id}",
        "en": "{title}\n  confirmed by {confirmed} · reached {reached} chats · /acks {id}",
    },
    "acks_not_asking": {
        "zh": "这条通知没有征求确认。",
        "en": "This notice does not ask to be confirmed.",
    },
    "acks_detail_title": {
        "zh": "{title}\n第 {round} 轮确认：{confirmed} 人已确认，已发送至 {reached} 个聊天",
        "en": "{title}\nRound {round}: confirmed by {confirmed}, reached {reached} chats",
    },
    "acks_chat_line": {
        "zh": "{chat}：{count} 人已确认",
        "en": "{chat}: {count} confirmed",
    },
    "acks_private_line": {
        "zh": "私聊订阅：{confirmed}/{reached} 已确认",
        "en": "Private subscribers: {confirmed} of {reached} confirmed",
    },
    "acks_person": {
        "zh": "  · {name}（{chat}，{time}，第{version}版）",
        "en": "  · {name} ({chat}, {time}, version {version})",
    },
    "acks_more": {
        "zh": "  …另有 {count} 人，完整名单请用 noticebot acks --csv {id}",
        "en": "  …and {count} more: noticebot acks --csv {id} lists everyone",
    },
    "acks_renewed": {
        "zh": "已重新征求确认（第 {round} 轮）：计数归零，提醒重新安排。",
        "en": "Asked again (round {round}): counts start from zero and reminders are armed again.",
    },
    "private_chat": {"zh": "私聊", "en": "private"},
    # what admins are told in private
    "chat_held": {
        "zh": "无法向“{chat}”发送通知：{reason}。通知已暂存，恢复后会自动补发。",
        "en": "Notices cannot be sent to “{chat}”: {reason}. They are held and will go out "
        "once it is possible again.",
    },
    "held_topic_closed": {"zh": "该话题已关闭", "en": "the topic is closed"},
    "held_no_rights": {"zh": "机器人在那里没有发言权限", "en": "the bot may not post there"},
    "withdrawals_held": {
        "zh": "⚠️ 文件夹 {folder} 中{count}条通知的文件同时不见了。这更像是文件夹暂时无法访问（尚未挂载、同步或检出进行中），所以这些通知暂不撤回；如果{minutes}分钟后文件仍未出现，将自动撤回。要立即撤回，请运行 noticebot scan --withdraw 。",
        "en": "⚠️ The files of {count} notices in {folder} disappeared at once. That looks more like the folder being briefly unavailable (not mounted yet, a sync or checkout under way) than withdrawals, so they are not withdrawn yet; if the files are still missing after {minutes} minutes, they will be. To withdraw them now, run noticebot scan --withdraw.",
        "en_one": "⚠️ The file of a notice in {folder} disappeared. That looks more like the folder being briefly unavailable than a withdrawal, so it is not withdrawn yet; if the file is still missing after {minutes} minutes, it will be. To withdraw it now, run noticebot scan --withdraw.",
    },
    "broken_post": {
        "zh": "⚠️ 文件 {file} 无法读取，这一版本没有发出：{reason}。修改并保存后会重新读取。",
        "en": "⚠️ The file {file} could not be read, so this version was not sent: {reason}. "
        "It is read again once it is corrected and saved.",
    },
    "broken_posts_more": {
        "zh": "⚠️ 另有{count}个文件无法读取，详情请运行 noticebot status 查看。",
        "en": "⚠️ {count} more files could not be read: see noticebot status.",
        "en_one": "⚠️ One more file could not be read: see noticebot status.",
    },
    "unconfigured_folders": {
        "zh": "（已不在配置中的文件夹）",
        "en": "(folders no longer configured)",
    },
    "pin_refused": {
        "zh": "⚠️ 机器人没有置顶消息的权限，紧急通知无法置顶。请在群组或频道设置中授予"
        "“置顶消息”权限。",
        "en": "⚠️ The bot isn't allowed to pin messages here, so urgent notices are not "
        "pinned. Give it the right to pin messages in the group or channel settings.",
    },
    # command menu (no /read: it needs a notice, which only a list or a card gives)
    "cmd_start": {"zh": "开始使用", "en": "Welcome"},
    "cmd_help": {"zh": "使用帮助", "en": "Help"},
    "cmd_subscribe": {"zh": "订阅通知", "en": "Subscribe to notices"},
    "cmd_unsubscribe": {"zh": "取消订阅", "en": "Unsubscribe"},
    "cmd_latest": {"zh": "看最新通知", "en": "Latest notices"},
    "cmd_search": {"zh": "查找通知", "en": "Search notices"},
    "cmd_settings": {"zh": "接收方式和语言", "en": "Delivery and language"},
    "cmd_broadcast": {"zh": "把一条通知发给所有订阅", "en": "Send a notice to every subscriber"},
    "cmd_announce": {"zh": "发布社区公告", "en": "Send an announcement"},
    "cmd_stats": {"zh": "运行统计", "en": "Statistics"},
    "cmd_acks": {"zh": "谁已确认通知", "en": "Who confirmed notices"},
    "cmd_feeds": {"zh": "管理订阅源", "en": "Manage feeds"},
    "cmd_addfeed": {"zh": "添加订阅源", "en": "Add a feed"},
    # feeds the admins manage
    "feeds_private_only": {
        "zh": "订阅源的地址只在与机器人的私聊中显示，请在私聊中使用 /feeds 和 /addfeed 。",
        "en": "Feed addresses are shown only in your private chat with the bot: use /feeds "
        "and /addfeed there.",
    },
    "addfeed_usage": {
        "zh": "用法：/addfeed 地址 [分类]\n例如：/addfeed {example} 停水停电",
        "en": "Usage: /addfeed URL [category]\nFor example: /addfeed {example} water",
    },
    "addfeed_found": {
        "zh": "订阅源：{title}\n地址：{url}\n现有 {count} 条",
        "en": "Feed: {title}\nAddress: {url}\n{count} entries now",
        "en_one": "Feed: {title}\nAddress: {url}\n1 entry now",
    },
    "addfeed_newest": {
        "zh": "最新一条如下，订阅者收到的消息就是这样：",
        "en": "Its newest entry, exactly as subscribers would get it:",
    },
    "addfeed_empty": {
        "zh": "这个订阅源目前没有条目，新条目出现后会发送。",
        "en": "The feed has no entries yet; new ones will be sent as they appear.",
    },
    "addfeed_confirm": {
        "zh": "添加这个订阅源吗？现有的 {count} 条只记录、不发送；之后的新条目会发送给订阅者。",
        "en": "Add this feed? Its {count} current entries are recorded, not sent; new "
        "entries will be sent to subscribers.",
        "en_one": "Add this feed? Its current entry is recorded, not sent; new entries "
        "will be sent to subscribers.",
    },
    "btn_add_feed": {"zh": "添加", "en": "Add"},
    "addfeed_cancelled": {"zh": "已取消，未添加订阅源。", "en": "Cancelled: no feed added."},
    "addfeed_added": {
        "zh": "✅ 已添加订阅源“{feed}”：现有 {count} 条已记录，不发送；之后的新条目会发送。",
        "en": "✅ Feed “{feed}” added: its {count} current entries are recorded, not "
        "sent; new entries will be sent.",
        "en_one": "✅ Feed “{feed}” added: its current entry is recorded, not sent; new "
        "entries will be sent.",
    },
    "feeds_none": {
        "zh": "还没有订阅源。用 /addfeed 地址 添加一个。",
        "en": "No feeds yet. Add one with /addfeed URL.",
    },
    "feeds_title": {
        "zh": "订阅源共 {count} 个（第 {page}/{pages} 页）：",
        "en": "{count} feeds (page {page} of {pages}):",
        "en_one": "1 feed:",
    },
    "feed_untitled": {"zh": "（无标题）", "en": "(untitled)"},
    "feed_category": {"zh": "分类：{category}", "en": "category: {category}"},
    "feed_every": {"zh": "每 {minutes} 分钟读取", "en": "read every {minutes} min"},
    "feed_from_config": {
        "zh": "来自配置，不能在聊天中更改",
        "en": "from the configuration: not changeable in the chat",
    },
    "feed_is_paused": {"zh": "⏸ 已暂停", "en": "⏸ paused"},
    "feed_never": {"zh": "从未", "en": "never"},
    "feed_read_line": {
        "zh": "上次读取：{fetched} · {count} 条 · 最近新通知：{new}",
        "en": "last read {fetched} · {count} entries · last new notice {new}",
        "en_one": "last read {fetched} · 1 entry · last new notice {new}",
    },
    "feed_failing_line": {
        "zh": "⚠️ 连续失败 {count} 次：{error}",
        "en": "⚠️ failed {count} times in a row: {error}",
        "en_one": "⚠️ failed once: {error}",
    },
    "btn_feed_pause": {"zh": "⏸ 暂停 {number}", "en": "⏸ Pause {number}"},
    "btn_feed_resume": {"zh": "▶️ 恢复 {number}", "en": "▶️ Resume {number}"},
    "btn_feed_remove": {"zh": "🗑 删除 {number}", "en": "🗑 Remove {number}"},
    "btn_page_back": {"zh": "◀️ 上一页", "en": "◀️ Back"},
    "btn_page_next": {"zh": "下一页 ▶️", "en": "Next ▶️"},
    "feed_paused": {"zh": "已暂停“{feed}”", "en": "“{feed}” paused"},
    "feed_resumed": {"zh": "已恢复“{feed}”，马上读取", "en": "“{feed}” resumed: read now"},
    "feed_remove_ask": {
        "zh": "删除订阅源“{feed}”吗？它带来的通知有 {count} 条，已发出的可以保留，也可以从各聊天撤回。",
        "en": "Remove the feed “{feed}”? It brought {count} notices: those already sent "
        "can stay, or be withdrawn from every chat.",
        "en_one": "Remove the feed “{feed}”? It brought 1 notice: if it was sent, it can "
        "stay, or be withdrawn from every chat.",
    },
    "btn_remove_keep": {"zh": "删除，保留已发出的通知", "en": "Remove, keep its notices"},
    "btn_remove_withdraw": {"zh": "删除并撤回它的通知", "en": "Remove and withdraw its notices"},
    "feed_removed_kept": {
        "zh": "已删除订阅源“{feed}”，它的通知保留。",
        "en": "Feed “{feed}” removed; its notices stay.",
    },
    "feed_removed_withdrawn": {
        "zh": "已删除订阅源“{feed}”，正在从各聊天撤回它的 {count} 条通知。",
        "en": "Feed “{feed}” removed; its {count} notices are being withdrawn from every chat.",
        "en_one": "Feed “{feed}” removed; its notice is being withdrawn from every chat.",
    },
    "feed_failing": {
        "zh": "⚠️ 订阅源“{feed}”已连续 {since}读取失败：{error}。它的新通知暂时收不到；恢复时会再告诉你。用 /feeds 查看。",
        "en": "⚠️ The feed “{feed}” has failed for {since}: {error}. Its new notices "
        "cannot arrive meanwhile; you will be told when it recovers. See /feeds.",
    },
    "feed_recovered": {
        "zh": "✅ 订阅源“{feed}”已恢复，可以正常读取了。",
        "en": "✅ The feed “{feed}” has recovered and reads again.",
    },
    "feed_configured": {
        "zh": "“{feed}”来自配置，不能在这里更改；请修改 {setting} 。",
        "en": "“{feed}” is in the configuration and cannot be changed here: edit {setting}.",
    },
    "feed_unknown": {
        "zh": "没有这个订阅源：{feed}（可能已被删除）。",
        "en": "No such feed: {feed} (perhaps it was removed).",
    },
    "feed_not_url": {
        "zh": "“{url}”不是订阅源的网址，应是以 {scheme} 开头的完整地址。",
        "en": "“{url}” is not a feed's address: a whole address starting with {scheme}.",
    },
    "feed_duplicate": {
        "zh": "这个订阅源已经在读取了：{url}",
        "en": "This feed is read already: {url}",
    },
    "feed_private": {
        "zh": "不能添加 {host}：它是本机或内部网络的地址。",
        "en": "{host} cannot be added: it is an address on this machine or its local network.",
    },
    "feed_bad_category": {
        "zh": "分类最多 {most} 个字，不含逗号。",
        "en": "A category has at most {most} characters and no comma.",
    },
    "feed_unreadable": {
        "zh": "无法读取这个订阅源（{url}）：{error}。未添加。",
        "en": "This feed cannot be read ({url}): {error}. Nothing was added.",
    },
    # replies
    "welcome": {
        "zh": "您好！我是社区通知机器人，会把街道和居委会发布的通知发到这里。\n\n👉 /subscribe 订阅全部通知\n👉 /subscribe 停水 停电 只收含其中任一词的通知\n👉 /latest 看最新通知\n👉 /search 停水 查找通知\n👉 /settings 设置接收方式和语言\n👉 /help 查看全部命令",
        "en": "Hello! I bring the notices of your street office and residents' committee to this chat.\n\n👉 /subscribe to get every notice\n👉 /subscribe water power to get only notices with any of these words\n👉 /latest for the newest notices\n👉 /search water to find a notice\n👉 /settings for delivery and language\n👉 /help for every command",
    },
    "help": {
        "zh": "可以发送这些命令：\n👉 /subscribe 订阅全部通知\n👉 /subscribe 停水 停电 只收含其中任一词的通知（词之间用空格或逗号）\n👉 /unsubscribe 取消订阅\n👉 /latest 看最新5条通知，/latest 10 看最新10条\n👉 /search 停水 查找通知\n👉 /settings 接收方式、语言、夜间静音",
        "en": "You can send these commands:\n👉 /subscribe to get every notice\n👉 /subscribe water power to get only notices with any of these words\n👉 /unsubscribe to stop\n👉 /latest for the newest 5 notices, /latest 10 for 10\n👉 /search water to find a notice\n👉 /settings for delivery, language and night mute",
    },
    "help_admin": {
        "zh": "\n\n管理员命令：\n"
        "👉 /broadcast 加通知编号：把这条通知发给所有订阅（编号在 /latest 的阅读链接里）\n"
        "👉 /announce 加公告内容：发布社区公告\n"
        "👉 /stats 运行统计\n"
        "👉 /acks 谁已确认通知\n"
        "👉 /feeds 管理订阅源，/addfeed 加地址：添加订阅源（在私聊中使用）",
        "en": "\n\nAdmin commands:\n"
        "👉 /broadcast and a notice's id: send it to every subscriber (the id is in its "
        "read link in /latest)\n"
        "👉 /announce and the text: send an announcement\n"
        "👉 /stats for statistics\n"
        "👉 /acks for who confirmed notices\n"
        "👉 /feeds to manage feeds, /addfeed and an address to add one (in private)",
    },
    "subscribed": {
        "zh": "订阅成功！有新通知会第一时间发到这里。发送 /settings 可调整接收方式。",
        "en": "Subscribed! New notices will be sent here as soon as they come out. "
        "Send /settings to choose how.",
    },
    "subscribed_topic": {
        "zh": "订阅成功！有新通知会第一时间发到本话题。发送 /settings 可调整接收方式。",
        "en": "Subscribed! New notices will be sent to this topic as soon as they come out. "
        "Send /settings to choose how.",
    },
    "subscribed_words": {
        "zh": "订阅成功！今后只发送含{words}的通知（社区公告照常发送）。想接收全部通知，发送 /subscribe 即可。",
        "en": "Subscribed! From now on only notices with {words} are sent here (announcements always come). To get every notice, send /subscribe.",
    },
    "subscribed_channel": {
        "zh": "订阅成功！频道 {channel} 今后会收到新通知。",
        "en": "Subscribed! The channel {channel} will get new notices.",
    },
    "unsubscribed": {
        "zh": "已取消订阅，今后不再发送通知到这里。想重新订阅，发送 /subscribe 即可。",
        "en": "Unsubscribed: no more notices will be sent here. To start again, send /subscribe.",
    },
    "not_subscribed": {
        "zh": "您还没有订阅，无需取消。想订阅，发送 /subscribe 即可。",
        "en": "This chat is not subscribed, so there is nothing to stop. To subscribe, send /subscribe.",
    },
    "admins_only": {
        "zh": "抱歉，只有本群管理员可以更改订阅和设置。",
        "en": "Sorry, only this group's administrators can change the subscription and settings.",
    },
    "channel_not_admin": {
        "zh": "无法订阅 {channel}：您和机器人都必须是该频道的管理员。",
        "en": "Cannot subscribe {channel}: both you and the bot must be its administrators.",
    },
    "expired_mark": {"zh": "已过期", "en": "expired"},
    "latest_title": {"zh": "最新通知：", "en": "Latest notices:"},
    "latest_empty": {
        "zh": "暂时还没有通知。发送 /subscribe 订阅后，有新通知会第一时间发给您。",
        "en": "No notices yet. Send /subscribe and new ones come to you as soon as they are out.",
    },
    "read_link": {"zh": "👉 点此阅读：", "en": "👉 Read: "},
    "read_usage": {
        "zh": "请在 /latest 列表中点通知下方的“点此阅读”链接，或用 /search 查找，例如：/search 停水",
        "en": "Tap the “Read” link under a notice in /latest, or search, e.g. /search water",
    },
    "not_found": {
        "zh": "没有找到这条通知（可能已撤回）。发送 /latest 看最新通知，或按词查找，例如：/search 停水",
        "en": "That notice was not found (it may have been withdrawn). Send /latest for the newest, or search by words, e.g. /search water",
    },
    "sent_privately": {
        "zh": "全文已在私聊中发给您。",
        "en": "Sent to you in a private chat.",
    },
    "read_in_private": {
        "zh": "全文请在与我的私聊中阅读：请点下方按钮打开私聊，再点底部的“开始”，全文会自动发给您。",
        "en": "Read the full text in a private chat with me: tap the button below, then "
        "Start at the bottom, and the text comes to you.",
    },
    "btn_read_privately": {"zh": "打开私聊看全文", "en": "Open private chat"},
    "search_usage": {
        "zh": "请在 /search 后加上要找的词，例如：/search 停水",
        "en": "Add the words to look for after /search, e.g. /search water",
    },
    "search_too_slow": {
        "zh": "这次查找太慢，已停止。请换更具体的词再试。",
        "en": "That search took too long and was stopped. Try more specific words.",
    },
    "search_empty": {
        "zh": "没有找到与“{query}”相关的通知。换个词试试，或发送 /latest 查看最新通知。",
        "en": "Nothing found for “{query}”. Try other words, or send /latest for the newest.",
    },
    "search_title": {
        "zh": "找到{count}条与“{query}”相关的通知：",
        "en": "{count} notices found for “{query}”:",
        "en_one": "1 notice found for “{query}”:",
    },
    "search_title_any": {
        "zh": "找到{count}条含{words}的通知：",
        "en": "{count} notices found with {words}:",
        "en_one": "1 notice found with {words}:",
    },
    "search_title_more": {
        "zh": "与“{query}”相关的最近{count}条通知：",
        "en": "The latest {count} notices for “{query}”:",
        "en_one": "The latest notice for “{query}”:",
    },
    "unknown_command": {
        "zh": "没有这个命令。发送 /help 查看可用命令。",
        "en": "There is no such command. Send /help to see what I understand.",
    },
    "free_text": {
        "zh": "您好！我只负责发送通知，暂时不能回复留言。查找通知可发送“/search 停水”这样的命令。"
        "有事请联系居委会。",
        "en": "Hello! I only send notices and cannot answer messages. To find a notice, "
        "send a command like “/search water”. For anything else, please contact your "
        "residents' committee.",
    },
    "free_text_contact": {
        "zh": "您好！我只负责发送通知，暂时不能回复留言。查找通知可发送“/search 停水”这样的命令。"
        "有事请联系：{contact}",
        "en": "Hello! I only send notices and cannot answer messages. To find a notice, "
        "send a command like “/search water”. For anything else: {contact}",
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
        "zh": "抱歉，此命令仅限社区工作人员（机器人管理员）使用。",
        "en": "Sorry, this command is for the bot's admins (community workers) only.",
    },
    # settings
    "settings_unsubscribed": {
        "zh": "尚未订阅，目前不会收到通知。发送 /subscribe 开始接收。",
        "en": "Not subscribed: no notices come here. Send /subscribe to start.",
    },
    "too_many_keywords": {
        "zh": "（最多{count}个词，其余的没有保存）",
        "en": "(at most {count} words; the rest were not kept)",
        "en_one": "(at most 1 word; the rest were not kept)",
    },
    "settings_title": {
        "zh": "设置\n接收方式：{mode}\n语言：中文\n夜间静音：{quiet}\n接收范围：{filters}",
        "en": "Settings\nDelivery: {mode}\nLanguage: English\nNight mute: {quiet}\nReceiving: {filters}",
    },
    "mode_card": {"zh": "只看摘要", "en": "summary only"},
    "mode_full": {"zh": "摘要和全文", "en": "summary and full text"},
    "mode_digest": {
        "zh": "每天汇总一次 {time}（紧急通知也在汇总时发送）",
        "en": "one list a day at {time} (urgent notices wait for it too)",
    },
    "quiet_on": {
        "zh": "开（{start}至次日{end}照常收到，但不响铃；紧急通知除外）",
        "en": "on (from {start} to {end} notices arrive without a sound, except urgent ones)",
    },
    "quiet_off": {"zh": "关", "en": "off"},
    "filters_none": {"zh": "全部通知", "en": "all notices"},
    "filters_some": {
        "zh": "含{words}的通知",
        "en": "only notices with {words}",
    },
    "btn_card": {"zh": "只看摘要", "en": "Summary only"},
    "btn_full": {"zh": "摘要和全文", "en": "Summary and full text"},
    "btn_digest": {"zh": "每天汇总一次 {time}", "en": "One list a day at {time}"},
    "btn_quiet": {"zh": "夜间静音 {start}至次日{end}", "en": "Night mute {start} to {end}"},
    "btn_filters_clear": {"zh": "改为接收全部通知", "en": "Get every notice"},
    "settings_filters_hint": {
        "zh": "只想收某类通知？发送：/subscribe 停水 停电（词之间用空格或逗号）",
        "en": "Only some notices? Send: /subscribe water power (separate words with spaces or commas)",
    },
    "saved": {"zh": "已保存", "en": "Saved"},
    "settings_admins_only": {
        "zh": "抱歉，只有管理员可以更改这里的设置。",
        "en": "Sorry, only administrators can change the settings here.",
    },
    "button_invalid": {
        "zh": "这个按钮已失效。",
        "en": "This button no longer works.",
    },
    # digest
    "digest_title": {
        "zh": "新通知汇总（共{count}条）：",
        "en": "New notices ({count}):",
    },
    # admin
    "broadcast_usage": {
        "zh": "请在 /broadcast 后加上通知编号：/latest 中阅读链接里 /read_ 后面的部分。",
        "en": "Add the notice's id after /broadcast: what follows /read_ in its read link "
        "in /latest.",
    },
    "announce_usage": {
        "zh": "请在 /announce 后写上公告内容（第一行全部加粗即为标题；可用加粗、链接和列表）",
        "en": "Write the announcement after /announce (a first line all in bold is the title; "
        "bold, links and lists are kept)",
    },
    "announce_unreadable": {
        "zh": "公告无法保存：内容无法读取，请检查后再发送。",
        "en": "The announcement could not be saved: its text could not be read. "
        "Check it and send it again.",
    },
    "announce_not_read": {
        "zh": "公告无法保存：写入后没有读到，请再试一次。",
        "en": "The announcement could not be saved: it was not read back. Please try again.",
    },
    "broadcast_confirm": {
        "zh": "将发送给{count}个订阅（个人、群或频道）。确定发送吗？",
        "en": "This goes to {count} subscribed chats. Send it?",
        "en_one": "This goes to 1 subscribed chat. Send it?",
    },
    "broadcast_of_expired": {
        "zh": "这条通知已过期，不会再发送。需要再次通知，请发布一条新通知。",
        "en": "This notice has expired, so it is not sent again. To tell residents again, publish a new notice.",
    },
    "broadcast_no_subscribers": {
        "zh": "还没有任何订阅，暂时没有人可以发送。",
        "en": "No chat is subscribed yet: there is nobody to send to.",
    },
    "broadcast_nobody": {
        "zh": "所有订阅都已收到或即将收到这条通知，无需再发送。",
        "en": "Every subscriber has this notice already, or will shortly: nothing to send.",
    },
    "btn_confirm": {"zh": "确定发送", "en": "Send"},
    "btn_cancel": {"zh": "取消", "en": "Cancel"},
    "broadcast_cancelled": {"zh": "已取消，没有发送。", "en": "Cancelled; nothing was sent."},
    "confirm_not_yours": {
        "zh": "只有发起的管理员可以确认。",
        "en": "Only the admin who asked can confirm.",
    },
    "broadcast_expired": {
        "zh": "这个确认已失效，请重新发送命令。",
        "en": "This confirmation has expired; send the command again.",
    },
    "broadcast_progress": {
        "zh": "正在发送：成功{sent}，失败{failed}，已屏蔽或退出{deactivated}，待发送{remaining}",
        "en": "Sending: sent {sent}, failed {failed}, blocked or gone {deactivated}, "
        "waiting {remaining}",
    },
    "broadcast_done": {
        "zh": "发送完成：成功{sent}，失败{failed}，已屏蔽或退出{deactivated}。",
        "en": "Done: sent {sent}, failed {failed}, blocked or gone {deactivated}.",
    },
    # ledger statuses, as /stats shows them
    "status_active": {"zh": "有效", "en": "active"},
    "status_withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "status_invalid": {"zh": "无法读取", "en": "unreadable"},
    "status_announcement": {"zh": "公告", "en": "announcements"},
    "status_reminder": {"zh": "确认提醒", "en": "reminders to confirm"},
    "status_queued": {"zh": "待发送", "en": "waiting"},
    "status_sending": {"zh": "发送中", "en": "sending"},
    "status_sent": {"zh": "已发送", "en": "sent"},
    "status_retracted": {"zh": "已撤回", "en": "withdrawn"},
    "status_failed": {"zh": "失败", "en": "failed"},
    "status_skipped": {"zh": "已跳过", "en": "skipped"},
    "none": {"zh": "无", "en": "none"},
    "stats": {
        "zh": "通知：{articles}\n订阅：有效{active}，已屏蔽或退出{inactive}\n发送记录：{deliveries}\n已发出的通知：修改{edits}次，撤回{retracted}条，置顶{pinned}条\n近24小时失败：{failures}",
        "en": "Notices: {articles}\nSubscribed chats: active {active}, blocked or gone {inactive}\nSent: {deliveries}\nSent notices: corrected {edits}, withdrawn {retracted}, pinned now {pinned}\nFailures in the last 24 hours: {failures}",
    },
}

# /stats lists statuses in this order: what is fine first, then what needs a look.
STATUS_ORDER = (
    "active",
    "announcement",
    "reminder",
    "withdrawn",
    "invalid",
    "sent",
    "queued",
    "sending",
    "retracted",
    "skipped",
    "failed",
)

_MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def t(key: str, lang: str, **values: object) -> str:
    """The string ``key`` in ``lang`` (Chinese when the language is unknown). English
    has a singular form (``en_one``) where a count of 1 reads differently; Chinese
    needs none."""
    texts = MESSAGES[key]
    if lang not in LANGUAGES:
        lang = DEFAULT_LANG
    text = texts[lang]
    if values.get("count") == 1 and f"{lang}_one" in texts:
        text = texts[f"{lang}_one"]
    return text.format(**values) if values else text


def quoted_words(words: tuple[str, ...] | list[str], lang: str) -> str:
    """``“停水”或“停电”`` / ``“water” or “power”``: any one of them is enough."""
    quoted = [f"“{word}”" for word in words]
    if len(quoted) < 2:
        return "".join(quoted)
    if lang == "en":
        return ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return "、".join(quoted[:-1]) + "或" + quoted[-1]


def language_for(telegram_code: str | None, default: str) -> str:
    """A user's Telegram language when we speak it (zh*, en*), else the default."""
    code = (telegram_code or "").lower()
    if code.startswith("zh"):
        return "zh"
    if code.startswith("en"):
        return "en"
    return default


def span_words(seconds: float, lang: str) -> str:
    """``3 分钟`` / ``3 minutes``, ``2 小时``, ``1 day``: how long, in its largest unit."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size or unit == "minute":
            count = max(1, round(seconds / size))
            break
    if lang == "zh":
        return f"{count} {dict(day='天', hour='小时', minute='分钟')[unit]}"
    return f"{count} {unit}" + ("" if count == 1 else "s")


def format_counts(counts: dict[str, int], empty: str = "0") -> str:
    """``{"sent": 3, "failed": 1}`` → ``failed 1, sent 3``: ledger words, for operators."""
    return ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or empty


def format_statuses(counts: dict[str, int], lang: str) -> str:
    """``{"sent": 3, "failed": 1}`` → ``已发送3，失败1`` / ``sent 3, failed 1``: for people,
    in a fixed order rather than by the ledger's words."""
    if not counts:
        return t("none", lang)
    order = {status: n for n, status in enumerate(STATUS_ORDER)}
    shown = [
        f"{t(f'status_{key}', lang)}{' ' if lang == 'en' else ''}{n}"
        for key, n in sorted(counts.items(), key=lambda item: order.get(item[0], len(order)))
    ]
    return ("，" if lang != "en" else ", ").join(shown)


def format_datetime(moment: datetime, lang: str, tz: ZoneInfo, now: datetime | None = None) -> str:
    """``2022年2月1日 16:57`` or ``1 Feb 2022, 16:57`` in the display time zone; without
    the year when ``now`` is in the same year (a list read today)."""
    local = moment.astimezone(tz)
    year = now is None or now.astimezone(tz).year != local.year
    if lang == "en":
        day = f"{local.day} {_MONTHS_EN[local.month - 1]}" + (f" {local.year}" if year else "")
        return f"{day}, {local:%H:%M}"
    day = (f"{local.year}年" if year else "") + f"{local.month}月{local.day}日"
    return f"{day} {local:%H:%M}"
