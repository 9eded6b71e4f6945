//! The audit log's hash chain: what an event's hash covers, how each links to the one before,
//! and the walk that checks a stored chain against itself, its head and a signed checkpoint.
//!
//! Chain order is its own sequence (`chain_seq`: 1, 2, 3 …), not the event id: ids are not in
//! commit order on PostgreSQL, so the store appends events to the chain after they commit,
//! one appender at a time (see `jitroles_store`'s `chain_audit`). Everything here is pure:
//! the store reads and writes, the server signs.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// A SHA-256 value.
pub type Digest = [u8; 32];

/// What the first event links to.
pub const GENESIS: Digest = [0; 32];

/// Names the encoding, so a later change of what is hashed cannot be mistaken for this one.
const VERSION_TAG: &[u8] = b"jitroles-audit-v1\0";

/// An event's stored fields, exactly as read back from the database (a hand-edited action
/// that is no longer a known [`super::AuditAction`] is still hashed, and found).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventContent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub actor: String,
    pub rule_id: Option<String>,
    pub grant_id: Option<String>,
    pub subject_account: Option<String>,
    pub detail: String,
    pub source: Option<String>,
}

/// An event in the chain: its place, its stored hash (hex) and its content. One line of
/// `jitroles audit export`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainedEvent {
    pub chain_seq: u64,
    pub hash: String,
    #[serde(flatten)]
    pub content: EventContent,
}

/// The end of the chain as the store records it (seq 0 and [`GENESIS`]: nothing chained yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: u64,
    pub hash: Digest,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: GENESIS,
    };
}

/// The bytes an event's hash covers: a version tag, its place in the chain, its id and every
/// stored field, each length-prefixed (so no two different events encode alike) and absent
/// fields told apart from empty ones. Times in RFC 3339 UTC with nanoseconds, as stored.
pub fn canonical(seq: u64, e: &EventContent) -> Vec<u8> {
    let mut out = Vec::with_capacity(96 + e.actor.len() + e.detail.len());
    encode(seq, e, &mut |bytes| out.extend_from_slice(bytes));
    out
}

/// [`canonical`] fed piece by piece to `out` (the hash takes it without a copy).
fn encode(seq: u64, e: &EventContent, out: &mut impl FnMut(&[u8])) {
    fn text(out: &mut impl FnMut(&[u8]), s: &str) {
        out(&(s.len() as u64).to_be_bytes());
        out(s.as_bytes());
    }
    fn optional(out: &mut impl FnMut(&[u8]), s: &Option<String>) {
        match s {
            None => out(&[0]),
            Some(s) => {
                out(&[1]);
                text(out, s);
            }
        }
    }
    out(VERSION_TAG);
    out(&seq.to_be_bytes());
    out(&e.id.to_be_bytes());
    text(out, &e.at.to_rfc3339_opts(SecondsFormat::Nanos, true));
    text(out, &e.action);
    text(out, &e.actor);
    optional(out, &e.rule_id);
    optional(out, &e.grant_id);
    optional(out, &e.subject_account);
    text(out, &e.detail);
    optional(out, &e.source);
}

/// The hash of the event at `seq` after the one whose hash is `prev`:
/// SHA-256(prev ‖ canonical(seq, event)).
pub fn link(prev: &Digest, seq: u64, e: &EventContent) -> Digest {
    let mut h = Sha256::new();
    h.update(prev);
    encode(seq, e, &mut |bytes| h.update(bytes));
    h.finalize().into()
}

pub fn to_hex(d: &Digest) -> String {
    hex::encode(d)
}

/// A stored hash read back; `None` when it is not 64 hex digits.
pub fn from_hex(s: &str) -> Option<Digest> {
    let mut d = [0; 32];
    hex::decode_to_slice(s, &mut d).ok()?;
    Some(d)
}

/// The chain head at a moment, as signed by `jitroles audit checkpoint` with a key kept
/// outside the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub hash: Digest,
    pub at: DateTime<Utc>,
}

impl Checkpoint {
    /// The exact bytes the signature covers.
    pub fn signed_text(&self) -> String {
        format!(
            "jitroles audit checkpoint v1\nseq {}\nhash {}\nat {}\n",
            self.seq,
            to_hex(&self.hash),
            self.at.to_rfc3339_opts(SecondsFormat::Micros, true)
        )
    }
}

/// Which event, as an operator looks it up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRef {
    pub id: i64,
    pub chain_seq: u64,
    pub at: DateTime<Utc>,
    pub action: String,
}

impl EventRef {
    fn of(e: &ChainedEvent) -> Self {
        Self {
            id: e.content.id,
            chain_seq: e.chain_seq,
            at: e.content.at,
            action: e.content.action.clone(),
        }
    }
}

impl fmt::Display for EventRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event id {} (chain_seq {}, at {}, action {})",
            self.id,
            self.chain_seq,
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.action
        )
    }
}

/// Where a stored chain stops being what was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The event's content does not give its stored hash: it (or, when its hash was rewritten
    /// to match, the one before it) was changed after it was chained.
    Altered {
        event: EventRef,
        before: Option<EventRef>,
    },
    /// Chain places are missing before this event (deleted rows), or it is out of place.
    Gap { expected_seq: u64, event: EventRef },
    /// The store's head names a place the events do not reach (the last events deleted), or
    /// a hash the last event does not have.
    HeadDiffers {
        head_seq: u64,
        last: Option<EventRef>,
    },
    /// The chain at the checkpoint's place has another hash: the events up to it were
    /// rewritten (and their hashes recomputed) after the checkpoint was signed.
    CheckpointDiffers {
        checkpoint: Checkpoint,
        event: EventRef,
    },
    /// The chain ends before the checkpoint's place: its tail was cut off.
    CheckpointMissing {
        checkpoint: Checkpoint,
        last_seq: u64,
    },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Altered {
                event,
                before: Some(before),
            } => write!(
                f,
                "{event} does not match its hash: it, or the {before} before it, was changed after it was chained"
            ),
            Break::Altered {
                event,
                before: None,
            } => write!(
                f,
                "{event} does not match its hash: it was changed after it was chained"
            ),
            Break::Gap {
                expected_seq,
                event,
            } => write!(
                f,
                "{event} comes where chain_seq {expected_seq} should: events {expected_seq}..{} are missing",
                event.chain_seq.saturating_sub(1).max(*expected_seq)
            ),
            Break::HeadDiffers {
                head_seq,
                last: Some(last),
            } => write!(
                f,
                "the chain head records chain_seq {head_seq}, but the chain ends with {last}: events after it were deleted or the head was rewritten"
            ),
            Break::HeadDiffers {
                head_seq,
                last: None,
            } => write!(
                f,
                "the chain head records chain_seq {head_seq}, but no event is chained: the events were deleted"
            ),
            Break::CheckpointDiffers { checkpoint, event } => write!(
                f,
                "{event} has another hash than the checkpoint signed at {}: the chain up to it was rewritten",
                checkpoint.at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Break::CheckpointMissing {
                checkpoint,
                last_seq,
            } => write!(
                f,
                "the checkpoint signed at {} records chain_seq {}, but the chain ends at chain_seq {last_seq}: its tail was cut off",
                checkpoint.at.to_rfc3339_opts(SecondsFormat::Secs, true),
                checkpoint.seq
            ),
        }
    }
}

/// Checks a chain fed in order, one event at a time (constant memory): each event's place
/// and hash, then (at [`Walk::finish`]) the store's head and the checkpoint.
#[derive(Debug)]
pub struct Walk {
    checkpoint: Option<Checkpoint>,
    /// Where the walk stands: the last event's place and hash (the empty head before any).
    at: Head,
    last: Option<EventRef>,
}

impl Walk {
    pub fn new(checkpoint: Option<Checkpoint>) -> Self {
        Self {
            checkpoint,
            at: Head::EMPTY,
            last: None,
        }
    }

    /// The next event, in chain order.
    pub fn step(&mut self, e: &ChainedEvent) -> Result<(), Break> {
        let expected_seq = self.at.seq + 1;
        if e.chain_seq != expected_seq {
            return Err(Break::Gap {
                expected_seq,
                event: EventRef::of(e),
            });
        }
        let computed = link(&self.at.hash, e.chain_seq, &e.content);
        if from_hex(&e.hash) != Some(computed) {
            return Err(Break::Altered {
                event: EventRef::of(e),
                before: self.last.clone(),
            });
        }
        if let Some(cp) = &self.checkpoint
            && cp.seq == e.chain_seq
            && cp.hash != computed
        {
            return Err(Break::CheckpointDiffers {
                checkpoint: cp.clone(),
                event: EventRef::of(e),
            });
        }
        self.at = Head {
            seq: e.chain_seq,
            hash: computed,
        };
        self.last = Some(EventRef::of(e));
        Ok(())
    }

    /// After the last event up to `head`: the head and the checkpoint are reached. The head
    /// verified (its place is the number of events checked).
    pub fn finish(self, head: Head) -> Result<Head, Break> {
        if self.at != head {
            return Err(Break::HeadDiffers {
                head_seq: head.seq,
                last: self.last,
            });
        }
        if let Some(cp) = self.checkpoint
            && cp.seq > head.seq
        {
            return Err(Break::CheckpointMissing {
                checkpoint: cp,
                last_seq: head.seq,
            });
        }
        Ok(head)
    }
}

/// Chains `events` (in the order they are to be chained) after `head`: each one's place and
/// hash, and the new head. The store calls this under its chain lock.
pub fn append<'a>(
    head: Head,
    events: impl IntoIterator<Item = &'a EventContent>,
) -> (Vec<(u64, Digest)>, Head) {
    let mut head = head;
    let links = events
        .into_iter()
        .map(|e| {
            let seq = head.seq + 1;
            let hash = link(&head.hash, seq, e);
            head = Head { seq, hash };
            (seq, hash)
        })
        .collect();
    (links, head)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn content(id: i64) -> EventContent {
        EventContent {
            id,
            at: Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap()
                + chrono::TimeDelta::nanoseconds(123_456_789),
            action: "granted".into(),
            actor: "dave".into(),
            rule_id: Some("r1".into()),
            grant_id: Some(format!("g{id}")),
            subject_account: Some("dave".into()),
            detail: "for the incident".into(),
            source: None,
        }
    }

    fn chain(n: i64) -> (Vec<ChainedEvent>, Head) {
        chained((1..=n).map(|i| content(i * 10)).collect())
    }

    /// `contents` chained from the start: the events as stored, and the head.
    fn chained(contents: Vec<EventContent>) -> (Vec<ChainedEvent>, Head) {
        let (links, head) = append(Head::EMPTY, &contents);
        let events = links
            .into_iter()
            .zip(contents)
            .map(|((seq, hash), content)| ChainedEvent {
                chain_seq: seq,
                hash: to_hex(&hash),
                content,
            })
            .collect();
        (events, head)
    }

    fn walk(events: &[ChainedEvent], head: Head, cp: Option<Checkpoint>) -> Result<u64, Break> {
        let mut w = Walk::new(cp);
        for e in events {
            w.step(e)?;
        }
        w.finish(head).map(|h| h.seq)
    }

    #[test]
    fn the_first_hash_is_fixed_so_another_implementation_can_check_it() {
        // SHA-256 of 32 zero bytes ‖ the canonical encoding of `content(10)` at seq 1 (checked
        // with a separate Python encoding of the same layout): a change
        // of the encoding must be a new version tag, not a silent change of every hash
        assert_eq!(
            to_hex(&link(&GENESIS, 1, &content(10))),
            "8c8bc214a8121de93fc7dda1cd5ab69724099eb600bfbc3e80d69a2f492b6a0c"
        );
    }

    #[test]
    fn every_field_and_the_place_change_the_hash() {
        let base = content(1);
        let h = link(&GENESIS, 1, &base);
        let mut variants = vec![];
        let mut v = base.clone();
        v.id = 2;
        variants.push(v);
        let mut v = base.clone();
        v.at += chrono::TimeDelta::nanoseconds(1);
        variants.push(v);
        let mut v = base.clone();
        v.action = "revoked".into();
        variants.push(v);
        let mut v = base.clone();
        v.actor = "alice".into();
        variants.push(v);
        let mut v = base.clone();
        v.rule_id = None;
        variants.push(v);
        let mut v = base.clone();
        v.grant_id = Some(String::new());
        variants.push(v);
        let mut v = base.clone();
        v.subject_account = Some("davE".into());
        variants.push(v);
        let mut v = base.clone();
        v.detail.push(' ');
        variants.push(v);
        let mut v = base.clone();
        v.source = Some(String::new());
        variants.push(v);
        for v in &variants {
            assert_ne!(link(&GENESIS, 1, v), h, "{v:?}");
        }
        assert_ne!(link(&GENESIS, 2, &base), h, "the place");
        assert_ne!(link(&[1; 32], 1, &base), h, "the event before");
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let mut a = content(1);
        a.actor = "ab".into();
        a.detail = "c".into();
        let mut b = content(1);
        b.actor = "a".into();
        b.detail = "bc".into();
        assert_ne!(canonical(1, &a), canonical(1, &b));
    }

    #[test]
    fn an_untouched_chain_verifies_against_its_head_and_checkpoint() {
        let (events, head) = chain(5);
        let cp = Checkpoint {
            seq: 3,
            hash: from_hex(&events[2].hash).unwrap(),
            at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
        };
        assert_eq!(walk(&events, head, Some(cp)), Ok(5));
        assert_eq!(walk(&[], Head::EMPTY, None), Ok(0));
    }

    #[test]
    fn an_edited_event_is_named() {
        let (mut events, head) = chain(5);
        events[2].content.detail = "nothing to see".into();
        let Err(Break::Altered { event, before }) = walk(&events, head, None) else {
            panic!("not found")
        };
        assert_eq!((event.id, event.chain_seq), (30, 3));
        assert_eq!(before.map(|b| b.chain_seq), Some(2));
    }

    #[test]
    fn an_edited_event_with_its_own_hash_recomputed_breaks_at_the_next() {
        let (mut events, head) = chain(5);
        events[2].content.actor = "mallory".into();
        let prev = from_hex(&events[1].hash).unwrap();
        events[2].hash = to_hex(&link(&prev, 3, &events[2].content));
        let Err(Break::Altered { event, before }) = walk(&events, head, None) else {
            panic!("not found")
        };
        assert_eq!(event.chain_seq, 4);
        assert_eq!(before.map(|b| b.id), Some(30), "the message names it too");
    }

    #[test]
    fn a_deleted_event_is_a_gap_and_a_deleted_tail_misses_the_head() {
        let (mut events, head) = chain(5);
        let removed = events.remove(1);
        let Err(Break::Gap {
            expected_seq,
            event,
        }) = walk(&events, head, None)
        else {
            panic!("not found")
        };
        assert_eq!((expected_seq, event.chain_seq), (removed.chain_seq, 3));

        let (mut events, head) = chain(5);
        events.truncate(3);
        assert!(matches!(
            walk(&events, head, None),
            Err(Break::HeadDiffers { head_seq: 5, .. })
        ));
    }

    #[test]
    fn a_consistently_rewritten_or_cut_chain_is_found_only_by_the_checkpoint() {
        let (events, _) = chain(5);
        let cp = Checkpoint {
            seq: 4,
            hash: head_at(&events, 4),
            at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
        };
        // rewrite from event 3 on, hashes and head recomputed: consistent in itself
        let mut contents: Vec<_> = events.iter().map(|e| e.content.clone()).collect();
        contents[2].detail = "rewritten".into();
        let (rewritten, new_head) = chained(contents);
        assert_eq!(walk(&rewritten, new_head, None), Ok(5));
        let Err(Break::CheckpointDiffers { event, .. }) =
            walk(&rewritten, new_head, Some(cp.clone()))
        else {
            panic!("not found")
        };
        assert_eq!(event.chain_seq, 4);

        // the last two cut off, the head set back to match
        let cut = &events[..3];
        let cut_head = Head {
            seq: 3,
            hash: head_at(&events, 3),
        };
        assert_eq!(walk(cut, cut_head, None), Ok(3));
        assert!(matches!(
            walk(cut, cut_head, Some(cp)),
            Err(Break::CheckpointMissing { last_seq: 3, .. })
        ));
    }

    fn head_at(events: &[ChainedEvent], seq: u64) -> Digest {
        from_hex(&events[seq as usize - 1].hash).unwrap()
    }

    #[test]
    fn appending_continues_from_the_head() {
        let (events, head) = chain(3);
        let more = [content(99)];
        let (links, after) = append(head, &more);
        assert_eq!(links[0].0, 4);
        assert_eq!(
            links[0].1,
            link(&from_hex(&events[2].hash).unwrap(), 4, &more[0])
        );
        assert_eq!(after.seq, 4);
    }

    #[test]
    fn a_checkpoint_signs_its_place_hash_and_time() {
        let cp = Checkpoint {
            seq: 7,
            hash: [0xab; 32],
            at: Utc.with_ymd_and_hms(2026, 12, 4, 10, 0, 0).unwrap(),
        };
        assert_eq!(
            cp.signed_text(),
            format!(
                "jitroles audit checkpoint v1\nseq 7\nhash {}\nat 2026-12-04T10:00:00.000000Z\n",
                "ab".repeat(32)
            )
        );
    }
}
