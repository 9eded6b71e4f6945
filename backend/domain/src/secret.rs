//! A value that must never reach a log: passwords, client secrets, database URLs that carry a
//! password. `Debug` prints `[redacted]`, so a settings struct that derives `Debug` is safe to
//! log whole; the value is read only through [`Secret::expose`].

use serde::Deserialize;

#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that uses it (a bind, a token request).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<&String> for Secret {
    fn from(value: &String) -> Self {
        Self(value.clone())
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn debug_never_shows_the_value() {
        #[derive(Debug)]
        #[allow(dead_code)] // read by Debug only
        struct Settings {
            password: Secret,
            url: Option<Secret>,
        }
        let s = Settings {
            password: "hunter2".into(),
            url: Some("postgres://jit:pw@db/jit".into()),
        };
        let shown = format!("{s:?} {s:#?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("pw@"),
            "{shown}"
        );
        assert_eq!(s.password.expose(), "hunter2");
    }
}
