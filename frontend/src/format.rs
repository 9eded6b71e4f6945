//! Times and durations as people read them, in the browser's time zone.

use prost_types::Timestamp;

/// Milliseconds since the epoch, now, by the browser's clock.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// A timestamp from the server as epoch milliseconds (0 when absent).
pub fn epoch_ms(t: Option<&Timestamp>) -> f64 {
    t.map_or(0.0, |t| {
        t.seconds as f64 * 1000.0 + f64::from(t.nanos) / 1e6
    })
}

/// A time in the browser's locale and time zone, e.g. "27/11/2026, 10:15:00".
pub fn local_time(t: Option<&Timestamp>) -> String {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms(t)));
    String::from(date.to_locale_string("default", &wasm_bindgen::JsValue::UNDEFINED))
}

/// A duration in whole units: "1 h 30 min", "45 s", "2 d".
pub fn duration(secs: i64) -> String {
    let secs = secs.max(0);
    let parts: Vec<String> = [
        (secs / 86_400, "d"),
        (secs / 3600 % 24, "h"),
        (secs / 60 % 60, "min"),
        (secs % 60, "s"),
    ]
    .iter()
    .filter(|(n, _)| *n > 0)
    .map(|(n, unit)| format!("{n} {unit}"))
    .collect();
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

/// A countdown to `until_ms`: "9 min 58 s left", or "ending…" once it has passed.
pub fn countdown(until_ms: f64, now_ms: f64) -> String {
    let left = ((until_ms - now_ms) / 1000.0).ceil() as i64;
    if left <= 0 {
        "ending…".into()
    } else {
        format!("{} left", duration(left))
    }
}

/// A `datetime-local` field's value ("2026-11-27T10:00") as epoch milliseconds, in the
/// browser's time zone; `None` when empty or not a time.
pub fn parse_local(value: &str) -> Option<f64> {
    if value.trim().is_empty() {
        return None;
    }
    let ms = js_sys::Date::new(&wasm_bindgen::JsValue::from_str(value)).get_time();
    (!ms.is_nan()).then_some(ms)
}

/// A timestamp as a `datetime-local` field's value, in the browser's time zone.
pub fn to_local_input(t: Option<&Timestamp>) -> String {
    let Some(t) = t else { return String::new() };
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(epoch_ms(Some(t))));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// Epoch milliseconds as a protobuf timestamp.
pub fn timestamp(ms: f64) -> Timestamp {
    Timestamp {
        seconds: (ms / 1000.0).floor() as i64,
        nanos: 0,
    }
}
