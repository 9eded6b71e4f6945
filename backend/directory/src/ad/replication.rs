//! When each `member` value of a group was written, from the DC's per-value replication
//! metadata: the constructed attribute `msDS-ReplValueMetaData` (MS-ADTS 3.1.1.4.5.x), one
//! XML document per value:
//!
//! ```xml
//! <DS_REPL_VALUE_META_DATA>
//!   <pszAttributeName>member</pszAttributeName><pszObjectDn>CN=…</pszObjectDn>
//!   <ftimeDeleted>1601-01-01T00:00:00Z</ftimeDeleted><ftimeCreated>…</ftimeCreated>
//!   <ftimeLastOriginatingChange>…</ftimeLastOriginatingChange>…
//! </DS_REPL_VALUE_META_DATA>
//! ```
//!
//! Samba does not construct it; jitroles then says the age of members is unknown.

use chrono::{DateTime, Utc};

pub(super) const VALUE_METADATA: &str = "msDS-ReplValueMetaData";
/// `ftimeDeleted` of a present value: FILETIME 0.
const NEVER: &str = "1601-01-01T00:00:00Z";

/// The present `member` values and when each was last written (the later of its creation and
/// its last change: a value removed and added again counts from the re-add, and a review
/// should rather see too many than too few). `None` when the DC gave no metadata at all.
pub(super) fn member_added_times(values: &[String]) -> Option<Vec<(String, DateTime<Utc>)>> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().filter_map(|v| member_written(v)).collect())
}

fn member_written(xml: &str) -> Option<(String, DateTime<Utc>)> {
    if !element(xml, "pszAttributeName")?.eq_ignore_ascii_case("member") {
        return None;
    }
    if element(xml, "ftimeDeleted").is_some_and(|t| t != NEVER) {
        return None; // removed: a tombstone of the value, not a member
    }
    let time = |name| {
        element(xml, name)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let written = time("ftimeCreated").max(time("ftimeLastOriginatingChange"))?;
    Some((element(xml, "pszObjectDn")?, written))
}

/// The text of `<name>…</name>`, with XML's five entities decoded.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..end]
            .trim()
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(dn: &str, created: &str, changed: &str, deleted: &str) -> String {
        format!(
            "<DS_REPL_VALUE_META_DATA>\n\t<pszAttributeName>member</pszAttributeName>\n\t\
             <pszObjectDn>{dn}</pszObjectDn>\n\t<cbData>0</cbData>\n\t<pbData></pbData>\n\t\
             <ftimeDeleted>{deleted}</ftimeDeleted>\n\t<ftimeCreated>{created}</ftimeCreated>\n\t\
             <dwVersion>1</dwVersion>\n\t<ftimeLastOriginatingChange>{changed}</ftimeLastOriginatingChange>\n\t\
             <uuidLastOriginatingDsaInvocationID>0</uuidLastOriginatingDsaInvocationID>\n\t\
             <usnOriginatingChange>1</usnOriginatingChange>\n\t<usnLocalChange>1</usnLocalChange>\n\t\
             <pszLastOriginatingDsaDN></pszLastOriginatingDsaDN>\n</DS_REPL_VALUE_META_DATA>"
        )
    }

    #[test]
    fn present_member_values_come_with_their_last_write_and_tombstones_are_left_out() {
        let values = [
            value(
                "CN=Carol,CN=Users",
                "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z",
                NEVER,
            ),
            value(
                "CN=R&amp;D Lead,CN=Users",
                "2026-01-01T00:00:00Z",
                "2026-12-02T09:00:00Z",
                NEVER,
            ),
            value(
                "CN=Gone,CN=Users",
                "2026-01-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
                "2026-02-01T00:00:00Z",
            ),
        ];
        let times = member_added_times(&values).unwrap();
        let at = |t: &str| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc);
        assert_eq!(
            times,
            [
                ("CN=Carol,CN=Users".to_owned(), at("2026-01-01T00:00:00Z")),
                (
                    "CN=R&D Lead,CN=Users".to_owned(),
                    at("2026-12-02T09:00:00Z")
                ),
            ]
        );
        assert_eq!(member_added_times(&[]), None, "a DC without the metadata");
    }
}
