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
