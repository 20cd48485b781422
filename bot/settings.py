"""One settings object for the app, the action server and the process supervisor.

Values come from the environment or `.env` (names in upper case, e.g. GATEWAY_PORT=8080).
"""

from __future__ import annotations

import os
import secrets
from contextlib import suppress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    var_dir: Path = PROJECT_ROOT / "var"
    database_url: str = ""  # default: SQLite file var/app.db
    rasa_tracker_url: str = ""  # default: SQLite file var/rasa_tracker.db (Rasa creates `events`)

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    # gateway processes, on gateway_port, gateway_port + 1, …; more than one wants a proxy in front
    # (the city layout's nginx, bot/city.py) and REDIS_URL so live events reach every replica
    gateway_replicas: int = Field(default=1, ge=1, le=8)
    rasa_host: str = "127.0.0.1"  # interface Rasa's HTTP API binds to
    rasa_port: int = 5005  # replica i listens on rasa_port + i
    # Rasa processes; each conversation always goes to the same one (by its id), so each can keep
    # its in-memory lock store. One fits a small server's memory (about 0.65 GB each); two use both
    # cores of a 2-core server for about 20% more throughput.
    rasa_replicas: int = Field(default=1, ge=1, le=8)
    # Rasa replicas on other machines, comma-separated base URLs (http://10.0.0.3:5005,…): the
    # gateways use these instead of RASA_HOST's ports (deploy/README.md)
    rasa_servers: str = ""
    actions_host: str = "127.0.0.1"
    actions_port: int = 5055
    rasa_token: str = ""  # default: a random token kept in var/rasa_token
    rasa_timeout_s: float = 30.0
    model_dir: Path = PROJECT_ROOT / "models"
    rasa_credentials: Path = PROJECT_ROOT / "credentials.yml"  # Rasa's input channels

    knowledge_dir: Path = PROJECT_ROOT / "knowledge"
    # any sentence-transformers model: the project's own (make model) or a path/id an operator chose
    embedding_model: str = str(PROJECT_ROOT / "models" / "embedding")
    search_calibration: Path | None = None  # default: calibration.json beside the project's model
    offices_file: Path | None = None  # a deployment's own offices; default knowledge/offices.yaml
    # an entry not reviewed for this long is listed for review, and its answers ask to confirm with the office
    review_after_days: int = Field(default=180, ge=1)

    # volunteer desk
    claim_expiry_minutes: float = 5.0  # a claim with no volunteer reply this long goes back to the queue
    volunteer_hours: str = "07:30-21:30"  # local time volunteers are on duty ("00:00-00:00": all day)
    volunteer_weekdays: str = "0,1,2,3,4,5,6"  # Monday is 0
    timezone: str = "Asia/Ho_Chi_Minh"
    console_session_hours: float = 12.0
    secure_cookies: bool = False  # set true when the console is served over HTTPS
    public_url: str = ""  # e.g. https://hotro.example.gov.vn, for links in volunteer notifications
    canned_replies_file: Path | None = None  # default knowledge/canned_replies.yaml
    # volunteer notifications on Telegram (a bot of the volunteers' group, not the citizens' bot)
    volunteer_telegram_token: str = ""
    volunteer_telegram_chat_id: str = ""  # the group (or one volunteer's chat) notified of new requests
    volunteer_telegram_secret: str = ""  # secret_token Telegram sends with each webhook call
    telegram_api_url: str = "https://api.telegram.org/bot"  # Bot API base; tests point it at a local server
    telegram_file_url: str = "https://api.telegram.org/file/bot"  # where files citizens send are downloaded

    # citizens on Telegram: a webhook when TELEGRAM_WEBHOOK_URL is set, else polling (development)
    telegram_token: str = ""
    telegram_webhook_url: str = ""  # public https URL ending in /webhooks/telegram
    telegram_secret: str = ""  # secret_token Telegram sends with each webhook call
    # citizens on Zalo (Official Account, Open API v3)
    zalo_app_id: str = ""
    zalo_app_secret: str = ""  # the app's secret key: OAuth token refresh
    zalo_oa_secret: str = ""  # the OA secret key: webhook signatures
    zalo_api_url: str = "https://openapi.zalo.me"
    zalo_oauth_url: str = "https://oauth.zaloapp.com"
    zalo_replay_window_hours: float = 24.0  # Zalo retries for hours after an outage

    redis_url: str = ""  # e.g. redis://127.0.0.1:6379/0: live events reach every gateway replica
    # the city layout on one machine (make run-city) runs its own PostgreSQL and Redis on these
    # ports; nginx takes gateway_port and the gateways the ports after it
    city_postgres_port: int = 5433
    city_redis_port: int = 6380

    retention_days: int = 365  # conversations older than this are deleted (told to citizens)
    max_message_chars: int = Field(default=4000, description="longer citizen messages are refused")
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"  # json: one object per line, for machines (bot/logs.py)

    # abuse limits (per minute unless named otherwise); over a limit: 429 with Retry-After, or one
    # polite reply on Telegram and Zalo
    rate_limit_conversation: int = Field(default=30, ge=1)  # messages a minute in one conversation
    rate_limit_ip: int = Field(default=600, ge=1)  # requests a minute from one address (not webhooks, not loopback)
    rate_limit_new_conversations: int = Field(default=60, ge=1)  # web conversations opened a minute per address
    login_max_failures: int = Field(default=10, ge=1)  # failed logins per account and address in 15 minutes
    trusted_proxies: str = "127.0.0.1,::1"  # peers whose X-Forwarded-For names the client
    # Argon2 hashes at once, off the event loop (one takes about 0.2 s of CPU: a login flood must
    # leave the other core to citizens)
    password_hash_concurrency: int = Field(default=1, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1024)  # JSON bodies of every route but /api/chat
    session_secret: str = ""  # signs web conversation ids; default: a random key kept in var/session_secret
    actions_secret: str = ""  # Rasa → action server; default: a random key kept in var/actions_secret
    # Fernet keys records are encrypted with, comma-separated, the current one first (bot/storage/crypto.py);
    # default: a key created once in var/data_key
    data_key: SecretStr = SecretStr("")
    metrics_token: str = ""  # /metrics answers loopback, or a Bearer of this token
    api_docs: bool = True  # /docs and /openapi.json
    zalo_media_hosts: str = "zdn.vn,zadn.vn,zalo.me,zaloapp.com"  # Zalo's CDN domains (and their subdomains)
    max_media_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024
    )  # a citizen's photo or file, fetched for the console

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.var_dir / 'app.db'}"

    @property
    def tracker_url(self) -> str:
        return self.rasa_tracker_url or f"sqlite:///{self.var_dir / 'rasa_tracker.db'}"

    @property
    def gateway_ports(self) -> list[int]:
        return [self.gateway_port + i for i in range(self.gateway_replicas)]

    @property
    def rasa_urls(self) -> list[str]:
        if servers := [url.strip().rstrip("/") for url in self.rasa_servers.split(",") if url.strip()]:
            return servers
        return [f"http://{self.rasa_host}:{self.rasa_port + i}" for i in range(self.rasa_replicas)]

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def actions_url(self) -> str:
        return f"http://{self.actions_host}:{self.actions_port}"

    @property
    def search_calibration_path(self) -> Path | None:
        if self.search_calibration:
            return self.search_calibration
        return Path(self.embedding_model) / "calibration.json" if Path(self.embedding_model).is_dir() else None

    @property
    def offices_path(self) -> Path:
        return self.offices_file or self.knowledge_dir / "offices.yaml"

    @property
    def canned_replies_path(self) -> Path:
        return self.canned_replies_file or self.knowledge_dir / "canned_replies.yaml"

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def zalo_media_host_list(self) -> list[str]:
        return [h.strip().lower() for h in self.zalo_media_hosts.split(",") if h.strip()]

    def ensure_rasa_token(self) -> str:
        """The token shared by the gateway and Rasa; generated once per installation."""
        self.rasa_token = self.rasa_token or self._installation_secret("rasa_token")
        return self.rasa_token

    def ensure_session_secret(self) -> str:
        """The key that signs web conversation ids (set it alike on every gateway replica)."""
        self.session_secret = self.session_secret or self._installation_secret("session_secret")
        return self.session_secret

    def ensure_actions_secret(self) -> str:
        """The secret Rasa sends the action server with every call."""
        self.actions_secret = self.actions_secret or self._installation_secret("actions_secret")
        return self.actions_secret

    def ensure_var_dir(self) -> Path:
        """`var/`, readable by its owner only: it holds conversations, secrets and logs."""
        self.var_dir.mkdir(parents=True, exist_ok=True)
        self.var_dir.chmod(0o700)
        return self.var_dir

    def _installation_secret(self, name: str) -> str:
        """A random secret generated once per installation, kept in var/<name> (0600)."""
        path = self.ensure_var_dir() / name
        if not path.exists():
            with suppress(FileExistsError):  # another process made it first
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(descriptor, "w") as file:
                    file.write(secrets.token_urlsafe(32))
        return path.read_text().strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
