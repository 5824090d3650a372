//! XMP packets: extracts `dc:description` (rdf:Alt/rdf:li, preferring
//! `x-default`, or the attribute form) as a low-priority prompt source.

use super::{Carrier, GenerationMetadata, Origin};

/// Replaces the XML entities XMP writers use.
pub(crate) fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(rest.get(..i).unwrap_or_default());
        let tail = rest.get(i..).unwrap_or_default();
        let Some(end) = tail.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = tail.get(1..).unwrap_or_default();
            continue;
        };
        let ent = tail.get(1..end).unwrap_or_default();
        let ch = match ent {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => ent
                .strip_prefix("#x")
                .or_else(|| ent.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| ent.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = tail.get(end + 1..).unwrap_or_default();
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or_default();
            }
        }
    }
    out.push_str(rest);
    out
}

/// Text between the first `<tag ...>` and the following `</tag>`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<(&'a str, &'a str)> {
    let open = format!("<{tag}");
    let mut from = 0;
    loop {
        let start = from + xml.get(from..)?.find(&open)?;
        let after = xml.get(start + open.len()..)?;
        // Make sure we matched the whole name (`<dc:description` not `<dc:descriptionX`).
        if after.starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace()) {
            let gt = after.find('>')?;
            let attrs = after.get(..gt)?;
            if attrs.ends_with('/') {
                return Some((attrs, ""));
            }
            let body = after.get(gt + 1..)?;
            let end = body.find(&format!("</{tag}>"))?;
            return Some((attrs, body.get(..end)?));
        }
        from = start + open.len();
    }
}

/// The text of an `rdf:Alt` property (`<tag><rdf:Alt><rdf:li …>text</rdf:li>…`,
/// preferring `x-default`), or of the plain element or attribute form;
/// entities unescaped, `None` when absent or empty.
pub(crate) fn alt_text(xml: &str, tag: &str) -> Option<String> {
    let text = match element(xml, tag) {
        Some((_, body)) => {
            let mut best = None;
            let mut rest = body;
            while let Some((attrs, li)) = element(rest, "rdf:li") {
                if best.is_none() || attrs.contains("x-default") {
                    best = Some(li);
                }
                if attrs.contains("x-default") {
                    break;
                }
                let Some(next) = rest.find("</rdf:li>") else {
                    break;
                };
                rest = rest.get(next + 9..).unwrap_or_default();
            }
            best.unwrap_or(body).to_owned()
        }
        None => {
            // Attribute form: tag="..."
            let attr = format!("{tag}=\"");
            let i = xml.find(&attr)? + attr.len();
            let tail = xml.get(i..)?;
            tail.get(..tail.find('"')?)?.to_owned()
        }
    };
    let text = unescape(text.trim());
    (!text.is_empty()).then_some(text)
}

/// `dc:description` from an XMP packet.
pub(crate) fn description(xml: &str) -> Option<String> {
    alt_text(xml, "dc:description")
}

/// Low-priority interpretation: tool "xmp" with the description as prompt.
pub(crate) fn parse(carriers: &[Carrier]) -> Option<GenerationMetadata> {
    let positive = carriers
        .iter()
        .filter(|c| c.origin == Origin::Xmp)
        .find_map(|c| description(&c.text))?;
    Some(GenerationMetadata {
        tool: Some("xmp".into()),
        positive: Some(positive),
        ..GenerationMetadata::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions() {
        let x = r#"<rdf:Description><dc:description><rdf:Alt><rdf:li xml:lang="de">Katze</rdf:li><rdf:li xml:lang="x-default">a cat &amp; a &#x1F600; &lt;3</rdf:li></rdf:Alt></dc:description></rdf:Description>"#;
        assert_eq!(description(x).as_deref(), Some("a cat & a 😀 <3"));
        assert_eq!(
            description(r#"<rdf:Description dc:description="hi &amp; bye"/>"#).as_deref(),
            Some("hi & bye")
        );
        assert_eq!(description("<dc:format>image/png</dc:format>"), None);
        assert_eq!(description("<dc:description><rdf:Alt><rdf:li/>"), None);
        assert_eq!(
            unescape("a & b &bogus; &#99999999;"),
            "a & b &bogus; &#99999999;"
        );
    }
}
