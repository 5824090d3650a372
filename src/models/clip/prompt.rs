//! Prompt text for CLIP score: the generator's control syntax removed before tokenisation.
//!
//! - `<lora:name:0.8>`, `<lyco:…>`, `<hypernet:…>` and any other `<…>` tag: removed;
//! - ComfyUI `embedding:name` (optionally `embedding:name:1.2`): removed;
//! - A1111 attention: `(word:1.2)` → `word`, `(word)`, `[word]`, `{word}` → `word`;
//!   escaped `\(` `\)` `\[` `\]` stay as literal brackets;
//! - `BREAK` and `AND` (prompt composition keywords, upper case only) → `,`;
//! - whitespace collapsed.

/// The prompt as plain text for CLIP.
pub fn clean_prompt(p: &str) -> String {
    let mut out = String::with_capacity(p.len());
    let chars: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() && "()[]{}".contains(chars[i + 1]) => {
                out.push(chars[i + 1]);
                i += 2;
                continue;
            }
            '<' => {
                if let Some(end) = chars[i..].iter().position(|&x| x == '>') {
                    out.push(' ');
                    i += end + 1;
                    continue;
                }
                out.push(c);
            }
            '(' | ')' | '[' | ']' | '{' | '}' => out.push(' '),
            ':' => {
                // `:1.2` weight right before a closing bracket: drop it.
                let rest: String = chars[i + 1..].iter().collect();
                let num_len = rest
                    .chars()
                    .take_while(|ch| ch.is_ascii_digit() || *ch == '.' || *ch == ' ' || *ch == '-')
                    .count();
                let after = rest.chars().nth(num_len);
                let is_weight = num_len > 0
                    && rest.chars().take(num_len).any(|ch| ch.is_ascii_digit())
                    && matches!(after, Some(')' | ']' | '}' | '>'));
                if is_weight {
                    i += 1 + num_len;
                    continue;
                }
                out.push(c);
            }
            _ => out.push(c),
        }
        i += 1;
    }
    let words: Vec<&str> = out
        .split_whitespace()
        .filter(|w| !w.starts_with("embedding:"))
        .map(|w| if w == "BREAK" || w == "AND" { "," } else { w })
        .collect();
    let joined = words.join(" ");
    // Tidy the commas left by removed tags: ", ," → ",", no leading/trailing comma.
    let mut s = joined.replace(" ,", ",");
    while s.contains(",,") {
        s = s.replace(",,", ",");
    }
    s.trim_matches(|c: char| c == ',' || c.is_whitespace())
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::clean_prompt;

    #[test]
    fn removes_weights_and_networks() {
        assert_eq!(
            clean_prompt("a (red:1.2) cat, [blurry], <lora:foo_v2:0.8> {sharp}"),
            "a red cat, blurry, sharp"
        );
        assert_eq!(
            clean_prompt("((masterpiece)), best quality"),
            "masterpiece, best quality"
        );
        assert_eq!(clean_prompt("embedding:easynegative, photo"), "photo");
        assert_eq!(clean_prompt("a cat BREAK a dog"), "a cat, a dog");
        assert_eq!(
            clean_prompt(r"a \(literal\) bracket"),
            "a (literal) bracket"
        );
        assert_eq!(
            clean_prompt("time: 12:30 ratio 16:9"),
            "time: 12:30 ratio 16:9"
        );
        assert_eq!(clean_prompt(""), "");
    }
}
