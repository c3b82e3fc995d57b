"""Connection security: Kafka SASL/SCRAM and TLS, Redis AUTH/ACL user and TLS, from settings.

The settings (`NEWSWORKER_KAFKA_SECURITY_PROTOCOL`, `..._SASL_*`, `..._SSL_*`, `NEWSWORKER_REDIS_*`,
see `worker.config.Settings`) are turned here, once at start-up, into what the clients take:

- `faust_security_options(settings)` -> `broker_credentials` / `ssl_context` for `faust.App`
  (faust hands them to aiokafka's consumer and producer);
- `aiokafka_security_kwargs(settings)` -> the same for a plain aiokafka client (`produce`, tools);
- `redis_connection(settings)` -> the Redis URL and redis-py keyword arguments (username,
  password, TLS files), for standalone and cluster clients alike.

Secrets and where they come from:
- Every secret can be given directly (`NEWSWORKER_REDIS_PASSWORD`) or as a file path
  (`NEWSWORKER_REDIS_PASSWORD_FILE`, e.g. a mounted Kubernetes or Docker secret); setting both is
  an error, so that no one wonders which one wins. A file's trailing newline is dropped.
- Secrets stay `SecretStr` in settings and in `KafkaSecurity`/`RedisSecurity`, whose repr shows
  `'**********'`. The plain value exists only in the kwargs handed to the client libraries, which
  do not log it (faust's `SASLCredentials` repr shows the user only; redis-py's connection repr
  shows host, port and db). Nothing here logs a secret, and no metric label carries one
  (`tests/unit/test_security.py` checks the repr, the logs and `/metrics`).
- Inconsistent settings (SASL without a user, a user without SASL, a password in the URL *and*
  in `NEWSWORKER_REDIS_PASSWORD`) raise `SecurityConfigError` at start-up with the variable to fix.

Input is never unpickled or evaluated: messages are parsed by msgspec's JSON decoder only.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr
from redis.credentials import CredentialProvider

from worker.config import Settings


class SecurityConfigError(ValueError):
    """The security settings contradict each other or a secret file cannot be read."""


def read_secret(value: SecretStr | None, path: Path | None, name: str) -> SecretStr | None:
    """The secret `NEWSWORKER_<NAME>`, or the contents of the file `NEWSWORKER_<NAME>_FILE`."""
    if value is not None and path is not None:
        raise SecurityConfigError(f"set NEWSWORKER_{name} or NEWSWORKER_{name}_FILE, not both")
    if path is None:
        return value
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        # The path is not a secret; the error names it and never the contents.
        raise SecurityConfigError(f"NEWSWORKER_{name}_FILE={path}: cannot read it ({exc.strerror})") from None
    return SecretStr(text.rstrip("\r\n"))


def _ssl_context(
    cafile: Path | None, certfile: Path | None, keyfile: Path | None,
    key_password: SecretStr | None, check_hostname: bool, what: str,
) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(cafile) if cafile else None)
        if certfile is not None:
            context.load_cert_chain(
                str(certfile), str(keyfile) if keyfile else None,
                password=key_password.get_secret_value() if key_password else None,
            )
    except (OSError, ssl.SSLError) as exc:
        raise SecurityConfigError(f"{what} TLS files cannot be loaded: {exc}") from None
    context.check_hostname = check_hostname
    return context


# --- Kafka -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The resolved Kafka security settings (secrets still masked)."""

    protocol: str = "PLAINTEXT"
    mechanism: str | None = None
    username: str | None = None
    password: SecretStr | None = None
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")


def kafka_security(settings: Settings) -> KafkaSecurity:
    protocol = settings.kafka_security_protocol
    password = read_secret(
        settings.kafka_sasl_password, settings.kafka_sasl_password_file, "KAFKA_SASL_PASSWORD"
    )
    key_password = read_secret(
        settings.kafka_ssl_key_password, settings.kafka_ssl_key_password_file, "KAFKA_SSL_KEY_PASSWORD"
    )
    sasl = protocol.startswith("SASL_")
    if sasl and (not settings.kafka_sasl_username or password is None):
        raise SecurityConfigError(
            f"NEWSWORKER_KAFKA_SECURITY_PROTOCOL={protocol} needs NEWSWORKER_KAFKA_SASL_USERNAME and "
            "NEWSWORKER_KAFKA_SASL_PASSWORD (or _FILE)"
        )
    if not sasl and (settings.kafka_sasl_username or password is not None):
        raise SecurityConfigError(
            "a Kafka SASL user or password is set but NEWSWORKER_KAFKA_SECURITY_PROTOCOL="
            f"{protocol}; set it to SASL_SSL (or SASL_PLAINTEXT) or remove the credentials"
        )
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = _ssl_context(
            settings.kafka_ssl_cafile, settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile,
            key_password, settings.kafka_ssl_check_hostname, "Kafka",
        )
    return KafkaSecurity(
        protocol=protocol,
        mechanism=settings.kafka_sasl_mechanism if sasl else None,
        username=settings.kafka_sasl_username if sasl else None,
        password=password if sasl else None,
        ssl_context=context,
    )


def faust_security_options(settings: Settings) -> dict[str, Any]:
    """`faust.App` options for the configured protocol (empty for PLAINTEXT)."""
    import faust

    sec = kafka_security(settings)
    if sec.protocol.startswith("SASL_"):
        assert sec.password is not None
        credentials = faust.SASLCredentials(
            username=sec.username,
            password=sec.password.get_secret_value(),
            ssl_context=sec.ssl_context,  # its presence makes faust use SASL_SSL
            mechanism=sec.mechanism,
        )
        return {"broker_credentials": credentials}
    if sec.protocol == "SSL":
        return {"broker_credentials": faust.SSLCredentials(sec.ssl_context)}
    return {}


def aiokafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `AIOKafkaProducer` / `AIOKafkaConsumer` (plain value: do not log)."""
    sec = kafka_security(settings)
    kwargs: dict[str, Any] = {"security_protocol": sec.protocol}
    if sec.ssl_context is not None:
        kwargs["ssl_context"] = sec.ssl_context
    if sec.mechanism is not None:
        assert sec.password is not None
        kwargs.update(
            sasl_mechanism=sec.mechanism,
            sasl_plain_username=sec.username,
            sasl_plain_password=sec.password.get_secret_value(),
        )
    return kwargs


# --- Redis -------------------------------------------------------------------------------------


class PasswordFileCredentials(CredentialProvider):
    """The Redis user and the password in `path`, read again at every new connection: a password
    rotated in the file (a Kubernetes Secret volume, updated in place) is used by the next
    connection. Read once at start, the old one was refused at every reconnection after the
    rotation, and the worker waited, live and not ready, until restarted by hand (an
    operator-fault review). A file that cannot be read then keeps the last password read."""

    def __init__(self, path: Path, username: str | None, password: str) -> None:
        self._path = path
        self._username = username
        self._password = password

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        with contextlib.suppress(OSError, UnicodeDecodeError):
            self._password = Path(self._path).read_text(encoding="utf-8").rstrip("\r\n")
        if self._username is None:
            return (self._password,)
        return (self._username, self._password)

    async def get_credentials_async(self) -> tuple[str] | tuple[str, str]:
        return self.get_credentials()


@dataclass(frozen=True, slots=True)
class RedisSecurity:
    """The resolved Redis connection (URL and password masked in the repr)."""

    url: SecretStr
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    ssl_kwargs: dict[str, Any] = field(default_factory=dict)
    #: NEWSWORKER_REDIS_PASSWORD_FILE: read again at every new connection
    password_file: Path | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """redis-py keyword arguments (plain password: do not log)."""
        kwargs: dict[str, Any] = dict(self.ssl_kwargs)
        if self.password_file is not None and self.password is not None:
            kwargs["credential_provider"] = PasswordFileCredentials(
                self.password_file, self.username, self.password.get_secret_value()
            )
            return kwargs
        if self.username is not None:
            kwargs["username"] = self.username
        if self.password is not None:
            kwargs["password"] = self.password.get_secret_value()
        return kwargs


def redis_security(settings: Settings, url: str | None = None) -> RedisSecurity:
    """Resolve the Redis URL (`url` overrides the settings') and its credentials and TLS."""
    if url is None:
        explicit = "redis_url" in settings.model_fields_set  # not just the default
        secret_url = read_secret(
            settings.redis_url if explicit or settings.redis_url_file is None else None,
            settings.redis_url_file, "REDIS_URL",
        )
        assert secret_url is not None
        url = secret_url.get_secret_value()
    password = read_secret(settings.redis_password, settings.redis_password_file, "REDIS_PASSWORD")
    parts = urlsplit(url)
    if password is not None and parts.password:
        raise SecurityConfigError(
            "the Redis password is both in NEWSWORKER_REDIS_URL and in NEWSWORKER_REDIS_PASSWORD; keep one"
        )
    if settings.redis_username and parts.username:
        raise SecurityConfigError(
            "the Redis user is both in NEWSWORKER_REDIS_URL and in NEWSWORKER_REDIS_USERNAME; keep one"
        )
    tls = settings.redis_tls or parts.scheme == "rediss"
    if settings.redis_tls and parts.scheme == "redis":
        # redis-py picks its TLS connection class from the scheme; URL options win over kwargs.
        url = urlunsplit(parts._replace(scheme="rediss"))
    ssl_kwargs: dict[str, Any] = {}
    if tls:
        ssl_kwargs = {"ssl_cert_reqs": "required", "ssl_check_hostname": settings.redis_ssl_check_hostname}
        for key, value in (
            ("ssl_ca_certs", settings.redis_ssl_cafile),
            ("ssl_certfile", settings.redis_ssl_certfile),
            ("ssl_keyfile", settings.redis_ssl_keyfile),
        ):
            if value is not None:
                ssl_kwargs[key] = str(value)
    # A user named in the URL is the URL's to give (redis-py refuses it beside a credential
    # provider): its password file is then read once, as before.
    reread = settings.redis_password_file if not parts.username else None
    return RedisSecurity(
        url=SecretStr(url), username=settings.redis_username, password=password, tls=tls,
        ssl_kwargs=ssl_kwargs, password_file=reread,
    )


def redis_connection(settings: Settings, url: str | None = None) -> tuple[str, dict[str, Any]]:
    """(url, kwargs) for `worker.dedup.store.connect` (plain values: do not log)."""
    sec = redis_security(settings, url)
    return sec.url.get_secret_value(), sec.client_kwargs()


__all__ = [
    "KafkaSecurity",
    "RedisSecurity",
    "SecurityConfigError",
    "aiokafka_security_kwargs",
    "faust_security_options",
    "kafka_security",
    "read_secret",
    "redis_connection",
    "redis_security",
]
