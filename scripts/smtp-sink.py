#!/usr/bin/env python3
"""The test and demo SMTP sink, started by scripts/smtp (read that first): one process, two
listeners on loopback, every accepted message appended as one JSON line to the outbox.

  plain     no TLS, no AUTH
  starttls  STARTTLS required before anything else, then AUTH (PLAIN or LOGIN) as the one user
  smtps     TLS from the first byte (implicit TLS), then AUTH as the one user

Outbox line: {"listener": "plain"|"starttls"|"smtps", "mail_from": str, "rcpt_tos": [str],
              "data": raw message text (CRLF line ends, undecoded MIME), "auth": login|null,
              "tls": bool}

Needs aiosmtpd (scripts/smtp installs it into a venv).
"""
import argparse
import asyncio
import hmac
import json
import logging
import os
import signal
import ssl
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd itself sets the deprecated Session.login_data on every AUTH; the warning is noise
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")

log = logging.getLogger("smtp-sink")


class Outbox:
    """Appends one JSON line per message with a single write(2) on an O_APPEND descriptor, so
    a reader never sees two messages interleaved, whatever else appends or truncates."""

    def __init__(self, path):
        self.path = path

    def append(self, record):
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            written = os.write(fd, line)
            if written != len(line):  # never seen on a local file system; say so if it happens
                raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
        finally:
            os.close(fd)


class Handler:
    def __init__(self, listener, outbox):
        self.listener = listener
        self.outbox = outbox

    async def handle_DATA(self, server, session, envelope):
        auth = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            auth = session.auth_data.login.decode("utf-8", "replace")
        record = {
            "listener": self.listener,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            # JSON has no bytes: anything that is not UTF-8 becomes U+FFFD
            "data": envelope.content.decode("utf-8", "replace"),
            "auth": auth,
            "tls": server.transport.get_extra_info("ssl_object") is not None,
        }
        self.outbox.append(record)
        log.info("%s: %s -> %s (%d bytes)", self.listener, envelope.mail_from,
                 ", ".join(envelope.rcpt_tos), len(envelope.content))
        return "250 2.0.0 Message accepted for delivery"


def authenticator_for(user, password):
    user_b, password_b = user.encode(), password.encode()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and hmac.compare_digest(auth_data.login, user_b)
              and hmac.compare_digest(auth_data.password, password_b))
        if not ok:
            log.info("AUTH %s refused", mechanism)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    return authenticate


async def serve(args):
    loop = asyncio.get_running_loop()
    with open(args.password_file, encoding="utf-8") as f:
        password = f.read().strip()
    outbox = Outbox(args.outbox)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(args.cert, args.key)

    plain = await loop.create_server(
        lambda: SMTP(Handler("plain", outbox), hostname="localhost", loop=loop),
        host=args.host, port=args.plain_port)
    starttls = await loop.create_server(
        lambda: SMTP(Handler("starttls", outbox), hostname="localhost", loop=loop,
                     tls_context=tls, require_starttls=True,
                     authenticator=authenticator_for(args.user, password),
                     auth_required=True, auth_require_tls=True),
        host=args.host, port=args.starttls_port)
    # aiosmtpd's auth_require_tls only knows STARTTLS: under implicit TLS it must be off, or
    # AUTH is never offered (the connection is encrypted all the same)
    smtps = await loop.create_server(
        lambda: SMTP(Handler("smtps", outbox), hostname="localhost", loop=loop,
                     authenticator=authenticator_for(args.user, password),
                     auth_required=True, auth_require_tls=False),
        host=args.host, port=args.smtps_port, ssl=tls)
    log.info("listening on %s: plain %d, starttls %d, smtps %d; outbox %s",
             args.host, args.plain_port, args.starttls_port, args.smtps_port, args.outbox)

    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    await stopping.wait()
    log.info("stopping")
    for server in (plain, starttls, smtps):
        server.close()
    for server in (plain, starttls, smtps):
        await server.wait_closed()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--plain-port", type=int, required=True)
    p.add_argument("--starttls-port", type=int, required=True)
    p.add_argument("--smtps-port", type=int, required=True)
    p.add_argument("--cert", required=True, help="PEM certificate of the TLS listeners")
    p.add_argument("--key", required=True, help="PEM private key of that certificate")
    p.add_argument("--user", required=True, help="the one login the TLS listeners accept")
    p.add_argument("--password-file", required=True, help="file holding that login's password")
    p.add_argument("--outbox", required=True, help="JSON lines file the messages are appended to")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
