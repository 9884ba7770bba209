# noticebot in a container: the official Python slim image, a non-root user,
# `pip install .`, state and articles on volumes, a health check on /healthz.
# Build: docker build -t noticebot .   Run: see compose.yaml.
# (tests/test_install.py runs the same steps without a container engine.)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 noticebot \
    && mkdir -p /data/state /data/articles \
    && chown -R noticebot:noticebot /data
USER noticebot
WORKDIR /data

ENV NOTICEBOT_DB=/data/state/noticebot.db \
    NOTICEBOT_ARTICLES=/data/articles \
    NOTICEBOT_ANNOUNCE_DIR=/data/state/announcements \
    NOTICEBOT_METRICS_LISTEN=0.0.0.0:9464 \
    NOTICEBOT_LOG_FORMAT=json
VOLUME ["/data/state", "/data/articles"]
EXPOSE 9464

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4).status == 200 else 1)"]

CMD ["noticebot", "run"]
