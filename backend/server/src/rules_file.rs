//! The rules file: every rule as YAML, its group and principals by name *and* SID (a file
//! reads well and applies exactly), channels by name, durations as "1h 30m". This module is
//! the format only: reading a file (unknown keys, wrong types and duplicate rule names are
//! errors with their line and column) and writing one. What a file means is resolved and
//! checked by `grants::rules_code`.

use chrono::{DateTime, Utc};
use jitroles_domain::access::{Effect, PrincipalKind};
use serde::{Deserialize, Serialize};
use serde_saphyr::{Location, Spanned};

/// The largest file read: 500 rules with long ACLs take about 1 MB.
pub const MAX_FILE_BYTES: usize = 4 << 20;
/// The most rules one file may hold.
pub const MAX_FILE_RULES: usize = 5_000;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub rules: Vec<FileRule>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRule {
    pub name: Spanned<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub group: Spanned<Principal>,
    #[serde(default)]
    pub acl: Vec<Spanned<Entry>>,
    pub max_duration: Spanned<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_duration: Option<Spanned<String>>,
    #[serde(default)]
    pub allow_extension: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_duration: Option<Spanned<String>>,
    #[serde(default)]
    pub justification: Justification,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Spanned<DateTime<Utc>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_lead: Option<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Channels::is_empty")]
    pub channels: Channels,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
}

fn enabled() -> bool {
    true
}

/// A group or person: by SID, by name, or both (then the SID wins).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// An ACL entry or an approver.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub effect: FileEffect,
    pub kind: FileKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileEffect {
    Allow,
    Deny,
}

impl From<FileEffect> for Effect {
    fn from(e: FileEffect) -> Self {
        match e {
            FileEffect::Allow => Effect::Allow,
            FileEffect::Deny => Effect::Deny,
        }
    }
}

impl From<Effect> for FileEffect {
    fn from(e: Effect) -> Self {
        match e {
            Effect::Allow => FileEffect::Allow,
            Effect::Deny => FileEffect::Deny,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    User,
    Group,
}

impl From<FileKind> for PrincipalKind {
    fn from(k: FileKind) -> Self {
        match k {
            FileKind::User => PrincipalKind::User,
            FileKind::Group => PrincipalKind::Group,
        }
    }
}

impl From<PrincipalKind> for FileKind {
    fn from(k: PrincipalKind) -> Self {
        match k {
            PrincipalKind::User => FileKind::User,
            PrincipalKind::Group => FileKind::Group,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Justification {
    Required,
    #[default]
    Optional,
    Hidden,
}

/// Channels by name.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channels {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure: Vec<Spanned<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approval: Vec<Spanned<String>>,
}

impl Channels {
    fn is_empty(&self) -> bool {
        self.success.is_empty() && self.failure.is_empty() && self.approval.is_empty()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub approvers: Vec<Spanned<Entry>>,
    pub required: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_window: Option<Spanned<String>>,
    #[serde(default)]
    pub break_glass: bool,
    #[serde(default)]
    pub service_approvers: bool,
}

/// Something wrong at a place in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl FileError {
    pub fn at(place: Location, message: impl Into<String>) -> Self {
        Self {
            line: place.line(),
            column: place.column(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(
                f,
                "line {}, column {}: {}",
                self.line, self.column, self.message
            )
        }
    }
}

/// A value with no place in a file (one about to be written).
pub fn unplaced<T>(value: T) -> Spanned<T> {
    Spanned::new(value, Location::UNKNOWN, Location::UNKNOWN)
}

/// Reads a rules file: its shape (keys, types) and rule names each once (any case).
pub fn parse(text: &str) -> Result<RulesFile, FileError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(FileError {
            line: 0,
            column: 0,
            message: format!(
                "the file is {} bytes; at most {MAX_FILE_BYTES} are read",
                text.len()
            ),
        });
    }
    let file: RulesFile = serde_saphyr::from_str(text).map_err(|e| {
        let message = first_line(&e);
        match e.location() {
            Some(place) => FileError::at(place, message),
            None => FileError {
                line: 0,
                column: 0,
                message,
            },
        }
    })?;
    if file.rules.len() > MAX_FILE_RULES {
        return Err(FileError {
            line: 0,
            column: 0,
            message: format!(
                "the file holds {} rules; at most {MAX_FILE_RULES}",
                file.rules.len()
            ),
        });
    }
    let mut seen: std::collections::HashMap<String, Location> = std::collections::HashMap::new();
    for rule in &file.rules {
        let key = rule.name.value.trim().to_lowercase();
        if let Some(first) = seen.get(&key) {
            return Err(FileError::at(
                rule.name.referenced,
                format!(
                    "a second rule named {:?} (the first is on line {})",
                    rule.name.value,
                    first.line()
                ),
            ));
        }
        seen.insert(key, rule.name.referenced);
    }
    Ok(file)
}

/// The error's own words, without the place (said once, by the caller) and without the
/// snippet of the file some errors render after them.
fn first_line(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let line = text.lines().next().unwrap_or_default();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((_, words)) => words.to_owned(),
        None => line.to_owned(),
    }
}

/// Writes a rules file, with a comment that says what it is.
pub fn write(file: &RulesFile, header: &str) -> Result<String, String> {
    let body = serde_saphyr::to_string(file).map_err(|e| e.to_string())?;
    let comments: String = header.lines().map(|l| format!("# {l}\n")).collect();
    Ok(format!("{comments}{body}"))
}

#[cfg(test)]
mod tests;
