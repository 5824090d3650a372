//! Attention checks: gold trials with a known answer, inserted among real trials.
//!
//! The gold item is a heavily degraded copy of a real image, made in memory (strong blur plus
//! noise; [`degrade`]) and named `<path>#degraded` in events (its hash likewise). A pairwise
//! check shows the pristine image against its degraded copy: choosing the pristine one passes.
//! A Likert or multi-dimensional check shows the degraded copy alone: a rating (fidelity for
//! multi) of 2 or less passes. A best-of-N check shows the pristine image among degraded
//! copies: choosing it passes.
//!
//! Check events are kept in the store but never enter statistics; raters whose pass rate is
//! below a threshold have all their events left out of statistics by default
//! ([`reliable_events`]).

use std::collections::BTreeMap;

use super::{Event, Protocol};
use crate::ranking::rng::Rng;

/// Suffix of a degraded copy's item name (and hash).
pub const DEGRADED_SUFFIX: &str = "#degraded";

/// Default pass-rate threshold below which a rater's events leave the statistics.
pub const DEFAULT_THRESHOLD: f64 = 0.8;

/// The name of the degraded copy of `item`.
pub fn degraded_name(item: &str) -> String {
    format!("{item}{DEGRADED_SUFFIX}")
}

/// The real item a degraded copy was made from, or `None` for a real item.
pub fn degraded_base(item: &str) -> Option<&str> {
    item.strip_suffix(DEGRADED_SUFFIX)
}

/// Whether an attention-check event was passed; `None` when the event is not a check or its
/// answer cannot be judged.
pub fn passed(e: &Event) -> Option<bool> {
    let p = &e.payload;
    if !p.attention_check {
        return None;
    }
    match e.protocol {
        Protocol::Pairwise | Protocol::BestOfN => {
            let pristine: Vec<&String> = p
                .items
                .iter()
                .filter(|i| degraded_base(i).is_none())
                .collect();
            let [good] = pristine.as_slice() else {
                return None;
            };
            Some(p.choice.as_deref() == Some(good.as_str()))
        }
        Protocol::Likert => p.rating.map(|r| r <= 2.0),
        Protocol::Multi => {
            let r = p.ratings.as_ref()?;
            let v = r
                .get("fidelity")
                .copied()
                .or_else(|| (!r.is_empty()).then(|| r.values().sum::<f64>() / r.len() as f64))?;
            Some(v <= 2.0)
        }
    }
}

/// A rater's attention checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaterChecks {
    pub passed: usize,
    pub checks: usize,
}

impl RaterChecks {
    /// Pass rate, `None` without checks.
    pub fn rate(&self) -> Option<f64> {
        (self.checks > 0).then(|| self.passed as f64 / self.checks as f64)
    }
}

/// Attention checks per rater (raters without checks are absent).
pub fn by_rater(events: &[Event]) -> BTreeMap<String, RaterChecks> {
    let mut out: BTreeMap<String, RaterChecks> = BTreeMap::new();
    for e in events {
        if let Some(ok) = passed(e) {
            let r = out.entry(e.rater.clone()).or_default();
            r.checks += 1;
            r.passed += usize::from(ok);
        }
    }
    out
}

/// The events statistics use: attention checks removed, and the events of raters whose pass
/// rate is below `threshold` removed (raters without checks stay). Returns the events kept
/// and the raters excluded (sorted).
pub fn reliable_events(events: &[Event], threshold: f64) -> (Vec<Event>, Vec<String>) {
    let excluded: Vec<String> = by_rater(events)
        .into_iter()
        .filter(|(_, c)| c.rate().is_some_and(|r| r < threshold))
        .map(|(r, _)| r)
        .collect();
    let kept = events
        .iter()
        .filter(|e| !e.payload.attention_check && !excluded.contains(&e.rater))
        .cloned()
        .collect();
    (kept, excluded)
}

/// A heavily degraded copy of `img` for an attention check: Gaussian blur with σ = 2 % of
/// the longer side (at least 3 px), then Gaussian noise with σ = 30 levels (seeded).
pub fn degrade(img: &image::RgbaImage, seed: u64) -> image::RgbaImage {
    let sigma = (img.width().max(img.height()) as f32 * 0.02).max(3.0);
    let mut out = image::imageops::blur(img, sigma);
    let mut rng = Rng::new(seed);
    let mut gauss = move || {
        // Box–Muller.
        let u1 = rng.next_f64().max(1e-12);
        let u2 = rng.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    };
    for px in out.pixels_mut() {
        for c in px.0.iter_mut().take(3) {
            *c = (f64::from(*c) + 30.0 * gauss()).round().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::human::Payload;

    fn ev(rater: &str, protocol: &str, items: &[&str], choice: Option<&str>, check: bool) -> Event {
        Event {
            rater: rater.into(),
            protocol: protocol.parse().unwrap(),
            payload: Payload {
                criterion: "overall".into(),
                items: items.iter().map(|s| s.to_string()).collect(),
                hashes: vec![],
                order: items.iter().map(|s| s.to_string()).collect(),
                choice: choice.map(str::to_string),
                rating: None,
                ratings: None,
                response_ms: None,
                attention_check: check,
            },
        }
    }

    #[test]
    fn checks_pass_when_the_pristine_image_wins_and_bad_raters_are_excluded() {
        let d = degraded_name("a.png");
        assert_eq!(degraded_base(&d), Some("a.png"));
        let events = vec![
            ev("r1", "pairwise", &["a.png", &d], Some("a.png"), true),
            ev("r1", "pairwise", &[&d, "a.png"], Some("a.png"), true),
            ev("r2", "pairwise", &["a.png", &d], Some(&d), true),
            ev("r2", "pairwise", &["a.png", &d], Some("tie"), true),
            ev("r1", "pairwise", &["a.png", "b.png"], Some("a.png"), false),
            ev("r2", "pairwise", &["a.png", "b.png"], Some("b.png"), false),
            ev("r3", "pairwise", &["a.png", "b.png"], Some("b.png"), false),
        ];
        let by = by_rater(&events);
        assert_eq!(
            by["r1"],
            RaterChecks {
                passed: 2,
                checks: 2
            }
        );
        assert_eq!(
            by["r2"],
            RaterChecks {
                passed: 0,
                checks: 2
            }
        );
        assert!(!by.contains_key("r3"));
        let (kept, excluded) = reliable_events(&events, DEFAULT_THRESHOLD);
        assert_eq!(excluded, vec!["r2"]);
        assert_eq!(kept.len(), 2, "r1's and r3's real judgements");
        assert!(kept.iter().all(|e| !e.payload.attention_check));
    }

    #[test]
    fn degraded_copy_is_much_blurrier() {
        let img = image::RgbaImage::from_fn(64, 64, |x, y| {
            let v = if (x / 4 + y / 4) % 2 == 0 { 255 } else { 0 };
            image::Rgba([v, v, v, 255])
        });
        let d = degrade(&img, 7);
        assert_eq!(d.dimensions(), img.dimensions());
        assert_eq!(degrade(&img, 7), d, "seeded");
        // The checkerboard's 4-px edges are gone: neighbours across an edge are close.
        let edge = |im: &image::RgbaImage| {
            (0..60)
                .map(|x| {
                    (i32::from(im.get_pixel(x, 10)[0]) - i32::from(im.get_pixel(x + 1, 10)[0]))
                        .abs()
                })
                .filter(|&v| v > 200)
                .count()
        };
        assert!(edge(&img) > 10);
        assert_eq!(edge(&d), 0);
    }
}
