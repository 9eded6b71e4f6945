//! The one form field every form uses: label, control, hint and error, with the control
//! marked `aria-invalid` while there is an error and `aria-describedby` naming the hint and
//! the error, so screen readers say both.

use leptos::prelude::*;

use crate::api::ApiError;

/// Which control a [`Field`] is.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum FieldKind {
    #[default]
    Text,
    /// A multi-line text with this many rows.
    Textarea(u32),
    /// A whole number from `min` to `max`.
    Number(i64, i64),
    Url,
    DateTimeLocal,
    Search,
}

/// `aria-describedby` for a control with an optional hint (`{id}-hint`) and error
/// (`{id}-error`); `None` when there is neither.
pub fn described_by(id: &str, hint: bool, error: bool) -> Option<String> {
    let parts: Vec<String> = [(hint, "hint"), (error, "error")]
        .into_iter()
        .filter(|(on, _)| *on)
        .map(|(_, part)| format!("{id}-{part}"))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The hint and error lines under a control, with the ids [`described_by`] names.
#[component]
pub fn FieldNotes(
    id: String,
    #[prop(default = None)] hint: Option<String>,
    #[prop(optional, into)] error: MaybeProp<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    view! {
        {hint.map(|h| view! { <p class="hint" id=format!("{id}-hint")>{h}</p> })}
        {move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
    }
}

/// A labelled text control bound to `value`.
#[component]
pub fn Field(
    id: String,
    #[prop(into)] label: String,
    value: RwSignal<String>,
    #[prop(optional)] kind: FieldKind,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional, into)] error: MaybeProp<String>,
    #[prop(optional)] required: bool,
    #[prop(optional)] maxlength: Option<u32>,
    /// Code or an identifier: monospace (templates), no spell checking or autofill.
    #[prop(optional)]
    code: bool,
    /// No spell checking or autofill (host names, addresses, paths).
    #[prop(optional)]
    literal: bool,
) -> impl IntoView {
    let has_hint = hint.is_some();
    let describedby = {
        let id = id.clone();
        move || described_by(&id, has_hint, error.with(Option::is_some))
    };
    let invalid = move || error.with(Option::is_some).to_string();
    let class = code.then_some("code-input");
    let plain = code || literal;
    let spellcheck = plain.then_some("false");
    let autocomplete = plain.then_some("off");
    let maxlength = maxlength.map(|n| n.to_string());
    let control = match kind {
        FieldKind::Textarea(rows) => view! {
            <textarea id=id.clone() rows=rows.to_string() class=class spellcheck=spellcheck
                required=required maxlength=maxlength
                aria-invalid=invalid aria-describedby=describedby
                prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev))></textarea>
        }
        .into_any(),
        kind => {
            let (input_type, min, max, inputmode) = match kind {
                FieldKind::Number(min, max) => {
                    ("number", Some(min.to_string()), Some(max.to_string()), Some("numeric"))
                }
                FieldKind::Url => ("url", None, None, None),
                FieldKind::DateTimeLocal => ("datetime-local", None, None, None),
                FieldKind::Search => ("search", None, None, None),
                FieldKind::Text | FieldKind::Textarea(_) => ("text", None, None, None),
            };
            view! {
                <input id=id.clone() type=input_type class=class spellcheck=spellcheck autocomplete=autocomplete
                    min=min max=max inputmode=inputmode required=required maxlength=maxlength
                    aria-invalid=invalid aria-describedby=describedby
                    prop:value=move || value.get() on:input=move |ev| value.set(event_target_value(&ev)) />
            }
            .into_any()
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {control}
            <FieldNotes id=id hint=hint error=error />
        </div>
    }
}

/// What is wrong with a form's fields: the browser's own checks first, then the server's
/// answer to the last save. Every editor places messages through this.
#[derive(Clone, Copy)]
pub struct FormProblems {
    /// (field, message) found before sending.
    pub local: RwSignal<Vec<(String, String)>>,
    /// The server's refusal of the last call.
    pub server: RwSignal<Option<ApiError>>,
}

impl Default for FormProblems {
    fn default() -> Self {
        Self {
            local: RwSignal::new(Vec::new()),
            server: RwSignal::new(None),
        }
    }
}

impl FormProblems {
    /// The message for `field` (and anything under it), for the line next to it.
    pub fn about(self, field: &'static str) -> Signal<Option<String>> {
        Signal::derive(move || {
            self.local
                .with(|l| l.iter().find(|(f, _)| f == field).map(|(_, m)| m.clone()))
                .or_else(|| {
                    self.server
                        .with(|e| e.as_ref().and_then(|e| e.about(field)))
                })
        })
    }

    /// The form-level message: local problems, violations no field shows, a stale save
    /// (`stale` says what to do), or any other failure.
    pub fn summary(self, fields: &'static [&'static str], stale: &'static str) -> Option<String> {
        if !self.local.with(Vec::is_empty) {
            return Some("Some settings need attention: see the messages next to them.".into());
        }
        self.server.with(|e| match e {
            Some(e @ ApiError::Invalid(..)) => e.invalid_summary(fields),
            Some(ApiError::Conflict(_)) => Some(stale.to_owned()),
            Some(e) => Some(e.to_string()),
            None => None,
        })
    }

    pub fn clear(self) {
        self.local.set(Vec::new());
        self.server.set(None);
    }
}
