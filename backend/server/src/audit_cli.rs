//! `jitroles audit verify | export | checkpoint`: the hash-chained audit log as an operator and
//! a SIEM meet it. The chain is the domain's (`jitroles_domain::audit::chain`) and is appended
//! by the server (`audit_chain`); these commands only read the database.
//!
//! A checkpoint is the chain head signed with an Ed25519 key kept outside the database, so a
//! tail rewritten (hashes recomputed) or cut off by someone who can write the database is found
//! by `verify --checkpoint`.

use std::{
    fs::{File, OpenOptions},
    io::{BufRead, BufReader, BufWriter, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use base64::{Engine as _, engine::general_purpose::STANDARD as BASE64};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Subcommand;
use jitroles_domain::{
    Clock,
    audit::chain::{self, Checkpoint},
};
use jitroles_store::Database;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::{clock::SystemClock, config::Config};

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chain and name the first event that does not match; with a checkpoint,
    /// also find a tail rewritten or cut off since it was signed. Exits 1 on any mismatch.
    Verify {
        /// A file of checkpoints (`audit checkpoint --to`, or a syslog file holding them):
        /// the last one is checked.
        #[arg(long, requires = "public_key")]
        checkpoint: Option<PathBuf>,
        /// The checkpoint key's public half (PEM: `openssl pkey -in KEY -pubout`).
        #[arg(long, requires = "checkpoint")]
        public_key: Option<PathBuf>,
    },
    /// Write chained events as NDJSON (one event a line, with its chain_seq and hash), in
    /// chain order, for a SIEM; resume from where the last export ended with --after or
    /// --cursor-file.
    Export {
        /// Only events at or after this time (RFC 3339).
        #[arg(long)]
        since: Option<DateTime<Utc>>,
        /// Only events before this time (RFC 3339).
        #[arg(long)]
        until: Option<DateTime<Utc>>,
        /// Only events after this chain_seq (the cursor the last export printed).
        #[arg(long, conflicts_with = "cursor_file")]
        after: Option<u64>,
        /// Read the cursor from this file (absent: from the start) and write the new one to
        /// it once the events are written.
        #[arg(long)]
        cursor_file: Option<PathBuf>,
        /// Append to this file instead of writing to standard output.
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Sign the chain head (chain_seq, hash, time) with an Ed25519 key kept outside the
    /// database and append it as one JSON line to a file or send it to syslog.
    Checkpoint {
        /// The private key (PKCS#8 PEM: `openssl genpkey -algorithm ed25519`).
        #[arg(long)]
        key: PathBuf,
        /// Append the checkpoint to this file.
        #[arg(long, required_unless_present = "syslog", conflicts_with = "syslog")]
        to: Option<PathBuf>,
        /// Send the checkpoint to the local syslog socket (default /dev/log), RFC 5424,
        /// facility auth.
        #[arg(long, num_args = 0..=1, default_missing_value = "/dev/log")]
        syslog: Option<PathBuf>,
    },
}

/// Events read per page: a command holds one page at a time.
const PAGE: u64 = 1_000;

pub async fn run(config: &Config, command: AuditCommand) -> anyhow::Result<()> {
    let database = Database::connect(&config.database_url()).await?;
    let outcome = match command {
        AuditCommand::Verify {
            checkpoint,
            public_key,
        } => verify(&database, checkpoint.zip(public_key)).await,
        AuditCommand::Export {
            since,
            until,
            after,
            cursor_file,
            to,
        } => {
            let after = match (&cursor_file, after) {
                (Some(file), _) => read_cursor(file)?,
                (None, after) => after.unwrap_or(0),
            };
            let window = Window { since, until };
            let summary = match &to {
                Some(path) => {
                    let file = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .with_context(|| format!("cannot open {}", path.display()))?;
                    let mut out = BufWriter::new(file);
                    let summary = export(&database, after, window, &mut out).await?;
                    let file = out.into_inner().map_err(|e| e.into_error())?;
                    file.sync_all()
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    summary
                }
                None => {
                    let mut out = BufWriter::new(std::io::stdout().lock());
                    let summary = export(&database, after, window, &mut out).await?;
                    out.flush()?;
                    summary
                }
            };
            // the cursor moves only once the events are written: a crash in between repeats
            // events (their chain_seq tells them apart), it never loses one
            if let Some(file) = &cursor_file {
                write_cursor(file, summary.cursor)?;
            }
            eprintln!(
                "exported {} events; cursor {} (next: --after {})",
                summary.written, summary.cursor, summary.cursor
            );
            Ok(())
        }
        AuditCommand::Checkpoint { key, to, syslog } => {
            let line = checkpoint(&database, &key, SystemClock.now()).await?;
            match (to, syslog) {
                (Some(file), _) => append_line(&file, &line),
                (None, Some(socket)) => send_syslog(&socket, &line),
                (None, None) => bail!("name --to FILE or --syslog"),
            }?;
            println!("{line}");
            Ok(())
        }
    };
    database.close().await;
    outcome
}

async fn verify(database: &Database, checkpoint: Option<(PathBuf, PathBuf)>) -> anyhow::Result<()> {
    let checkpoint = match checkpoint {
        Some((file, public_key)) => {
            let key = read_public_key(&public_key)?;
            let cp = latest_checkpoint(&file, &key)?;
            println!(
                "checkpoint: chain_seq {} signed at {} ({})",
                cp.seq,
                cp.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                file.display()
            );
            Some(cp)
        }
        None => None,
    };
    match database.verify_chain(checkpoint).await? {
        Ok(head) => {
            println!(
                "verified {} events up to chain_seq {} (hash {})",
                head.seq,
                head.seq,
                chain::to_hex(&head.hash)
            );
            let unchained = database.unchained_audit_events().await?;
            if unchained > 0 {
                println!(
                    "{unchained} events not yet chained (the server chains them within a second)"
                );
            }
            Ok(())
        }
        Err(broken) => bail!("the audit chain does not verify: {broken}"),
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

struct Exported {
    written: u64,
    cursor: u64,
}

/// The chained events after `after` up to the head as it is when the export starts, those in
/// `window` written. The cursor is that head: the next export starts after it, so events that
/// keep arriving are neither lost (they are chained after the head) nor repeated.
async fn export(
    database: &Database,
    after: u64,
    window: Window,
    out: &mut impl Write,
) -> anyhow::Result<Exported> {
    let head = database.chain_head().await?;
    let mut cursor = after;
    let mut written = 0;
    while cursor < head.seq {
        let page = database.chained_events(cursor, head.seq, PAGE).await?;
        let Some(last) = page.last() else { break };
        let last = last.chain_seq;
        for e in page {
            let at = e.content.at;
            if window.since.is_some_and(|s| at < s) || window.until.is_some_and(|u| at >= u) {
                continue;
            }
            serde_json::to_writer(&mut *out, &e)?;
            out.write_all(b"\n")?;
            written += 1;
        }
        cursor = last;
    }
    Ok(Exported {
        written,
        cursor: cursor.max(head.seq).max(after),
    })
}

fn read_cursor(file: &Path) -> anyhow::Result<u64> {
    match std::fs::read_to_string(file) {
        Ok(text) => text
            .trim()
            .parse()
            .with_context(|| format!("{} does not hold a cursor (a chain_seq)", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file.display())),
    }
}

/// Replaces the cursor file whole (a new file renamed over it).
fn write_cursor(file: &Path, cursor: u64) -> anyhow::Result<()> {
    let fresh = file.with_extension("new");
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&fresh)?;
        writeln!(f, "{cursor}")?;
        f.sync_all()?;
        std::fs::rename(&fresh, file)
    };
    write().with_context(|| format!("cannot write the cursor to {}", file.display()))
}

/// One checkpoint as a JSON line.
#[derive(Debug, Serialize, Deserialize)]
struct SignedCheckpoint {
    /// The format's version; also how a checkpoint is told apart in a syslog file.
    jitroles_audit_checkpoint: u32,
    seq: u64,
    hash: String,
    at: DateTime<Utc>,
    /// Ed25519 over [`Checkpoint::signed_text`], base64.
    signature: String,
}

async fn checkpoint(database: &Database, key: &Path, now: DateTime<Utc>) -> anyhow::Result<String> {
    let pair = read_private_key(key)?;
    let head = database.chain_head().await?;
    // the head row and the event it names agree, or the database was tampered with already
    if head.seq > 0 {
        let last = database.chained_events(head.seq - 1, head.seq, 1).await?;
        anyhow::ensure!(
            last.first().map(|e| e.hash.as_str()) == Some(chain::to_hex(&head.hash).as_str()),
            "the chain head (chain_seq {}) does not match its event; run `jitroles audit verify`",
            head.seq
        );
    }
    let cp = Checkpoint {
        seq: head.seq,
        hash: head.hash,
        at: now,
    };
    let signature = pair.sign(cp.signed_text().as_bytes());
    Ok(serde_json::to_string(&SignedCheckpoint {
        jitroles_audit_checkpoint: 1,
        seq: cp.seq,
        hash: chain::to_hex(&cp.hash),
        at: cp.at,
        signature: BASE64.encode(signature.as_ref()),
    })?)
}

fn append_line(file: &Path, line: &str) -> anyhow::Result<()> {
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new().create(true).append(true).open(file)?;
        writeln!(f, "{line}")?;
        f.sync_all()
    };
    write().with_context(|| format!("cannot append the checkpoint to {}", file.display()))
}

/// RFC 5424 over the local datagram socket: facility auth (4), severity notice (5).
fn send_syslog(socket: &Path, line: &str) -> anyhow::Result<()> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "-".into());
    let message = format!(
        "<37>1 {} {host} jitroles {} audit-checkpoint - {line}",
        SystemClock
            .now()
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        std::process::id()
    );
    let sender = std::os::unix::net::UnixDatagram::unbound()?;
    sender
        .send_to(message.as_bytes(), socket)
        .with_context(|| format!("cannot send to the syslog socket {}", socket.display()))?;
    Ok(())
}

fn read_private_key(path: &Path) -> anyhow::Result<Ed25519KeyPair> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let der = rustls_pemfile::private_key(&mut pem.as_slice())
        .ok()
        .flatten()
        .with_context(|| format!("{} holds no PKCS#8 private key (PEM)", path.display()))?;
    // openssl genpkey writes PKCS#8 v1 (no public key inside), which the checked parser refuses
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(der.secret_der())
        .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 key: {e}", path.display()))
}

/// The DER of an Ed25519 SubjectPublicKeyInfo before its 32 key bytes (RFC 8410).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

fn read_public_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let pem = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    for item in rustls_pemfile::read_all(&mut pem.as_slice()) {
        if let Ok(rustls_pemfile::Item::SubjectPublicKeyInfo(spki)) = item
            && let Some(key) = spki.as_ref().strip_prefix(&ED25519_SPKI_PREFIX)
            && key.len() == 32
        {
            return Ok(key.to_vec());
        }
    }
    bail!(
        "{} holds no Ed25519 public key (PEM \"PUBLIC KEY\": openssl pkey -in KEY -pubout)",
        path.display()
    )
}

/// The public key of `pair` as PEM, for tests and for operators who made the key with ring.
pub fn public_key_pem(pair: &Ed25519KeyPair) -> String {
    let mut der = ED25519_SPKI_PREFIX.to_vec();
    der.extend_from_slice(pair.public_key().as_ref());
    format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        BASE64.encode(der)
    )
}

/// The last checkpoint in `file` (lines without one, such as other syslog messages, are
/// skipped), its signature checked with `public_key`.
fn latest_checkpoint(file: &Path, public_key: &[u8]) -> anyhow::Result<Checkpoint> {
    let reader = BufReader::new(
        File::open(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let mut latest = None;
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        let Some(start) = line.find('{') else {
            continue;
        };
        if let Ok(cp) = serde_json::from_str::<SignedCheckpoint>(&line[start..]) {
            latest = Some((number + 1, cp));
        }
    }
    let Some((line, signed)) = latest else {
        bail!("{} holds no checkpoint", file.display());
    };
    let hash = chain::from_hex(&signed.hash).with_context(|| {
        format!(
            "{} line {line}: the hash is not 64 hex digits",
            file.display()
        )
    })?;
    let cp = Checkpoint {
        seq: signed.seq,
        hash,
        at: signed.at,
    };
    let signature = BASE64.decode(&signed.signature).unwrap_or_default();
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(cp.signed_text().as_bytes(), &signature)
        .map_err(|_| {
            anyhow::anyhow!(
                "{} line {line}: the checkpoint's signature does not verify with this public key",
                file.display()
            )
        })?;
    Ok(cp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` (OpenSSL 3).
    const OPENSSL_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJsXb/Ef+it7Y1UZdjPghqe8JwVHJH0JREiD4KZYWKY9
-----END PRIVATE KEY-----
";
    const OPENSSL_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEATRmZ3t9EuXOns0BmDnYZLC9MXwuHzmiKl/SEICF3Z0w=
-----END PUBLIC KEY-----
";
    /// `openssl pkeyutl -sign -inkey KEY -rawin` of "hello".
    const OPENSSL_SIGNATURE: &str =
        "6pyHrxWqzl0ymcdP4KD0Ow17PHMrKjPcA/7b1t4TG28PXOf7XDQrZFDjODr8wqfwyVizLtNIDBf9/fTmxwLNBQ==";

    #[test]
    fn keys_made_with_openssl_sign_and_verify_as_openssl_does() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let public = dir.path().join("key.pub");
        std::fs::write(&key, OPENSSL_KEY).unwrap();
        std::fs::write(&public, OPENSSL_PUBLIC).unwrap();
        let pair = read_private_key(&key).unwrap();
        assert_eq!(
            BASE64.encode(pair.sign(b"hello").as_ref()),
            OPENSSL_SIGNATURE
        );
        let public_key = read_public_key(&public).unwrap();
        assert_eq!(public_key, pair.public_key().as_ref());
        assert_eq!(public_key_pem(&pair), OPENSSL_PUBLIC);
        assert!(
            read_public_key(&key).is_err(),
            "a private key is not taken for a public one"
        );
    }

    #[test]
    fn the_latest_checkpoint_is_found_among_syslog_lines_and_its_signature_checked() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        std::fs::write(&key, OPENSSL_KEY).unwrap();
        let pair = read_private_key(&key).unwrap();
        let signed = |seq: u64| {
            let cp = Checkpoint {
                seq,
                hash: [seq as u8; 32],
                at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            };
            serde_json::to_string(&SignedCheckpoint {
                jitroles_audit_checkpoint: 1,
                seq,
                hash: chain::to_hex(&cp.hash),
                at: cp.at,
                signature: BASE64.encode(pair.sign(cp.signed_text().as_bytes()).as_ref()),
            })
            .unwrap()
        };
        let file = dir.path().join("syslog");
        std::fs::write(
            &file,
            format!(
                "Dec  4 10:00:00 host cron[1]: {{\"unrelated\":true}}\n\
                 <37>1 2026-12-04T10:00:00Z host jitroles 7 audit-checkpoint - {}\n\
                 Dec  4 11:00:00 host jitroles[8]: {}\nsomething else\n",
                signed(3),
                signed(9)
            ),
        )
        .unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let cp = latest_checkpoint(&file, &public).unwrap();
        assert_eq!((cp.seq, cp.hash), (9, [9; 32]));

        let forged = signed(12).replace("\"seq\":12", "\"seq\":13");
        std::fs::write(&file, format!("{}\n{forged}\n", signed(3))).unwrap();
        let err = latest_checkpoint(&file, &public).unwrap_err().to_string();
        assert!(
            err.contains("line 2") && err.contains("does not verify"),
            "{err}"
        );
    }
}
