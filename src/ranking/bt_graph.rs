//! Existence of the Bradley–Terry MLE: the win graph must be strongly connected
//! (Hunter 2004, Assumption 1; ties count as a win each way). Explains what breaks it.

use super::Pairs;

/// "item 3", "items 3 and 7", "items 1, 2, 3, 4, 5 and 2 more".
pub(super) fn describe(items: &[usize]) -> String {
    let shown: Vec<String> = items.iter().take(5).map(usize::to_string).collect();
    let more = items.len().saturating_sub(5);
    let noun = if items.len() == 1 { "item" } else { "items" };
    match (more, shown.split_last()) {
        (0, Some((last, rest))) if !rest.is_empty() => {
            format!("{noun} {} and {last}", rest.join(", "))
        }
        (0, _) => format!("{noun} {}", shown.join(", ")),
        (m, _) => format!("{noun} {} and {m} more", shown.join(", ")),
    }
}

/// Items reachable from item 0 along `edges` (from, to).
fn reach(n_items: usize, edges: &[(usize, usize)]) -> Vec<bool> {
    let mut start = vec![0usize; n_items + 1];
    for &(from, _) in edges {
        start[from + 1] += 1;
    }
    for i in 0..n_items {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut adj = vec![0usize; edges.len()];
    for &(from, to) in edges {
        adj[fill[from]] = to;
        fill[from] += 1;
    }
    let mut seen = vec![false; n_items];
    let mut stack = vec![0usize];
    seen[0] = true;
    while let Some(i) = stack.pop() {
        for &j in &adj[start[i]..start[i + 1]] {
            if !seen[j] {
                seen[j] = true;
                stack.push(j);
            }
        }
    }
    seen
}

/// Why the MLE does not exist (the win graph is not strongly connected), or `None`.
pub(super) fn mle_obstacle(n_items: usize, p: &Pairs) -> Option<String> {
    let mut played = vec![0.0; n_items];
    let mut won = vec![0.0; n_items];
    let mut beat = Vec::new();
    let mut beaten = Vec::new();
    for (&(lo, hi, n), &w) in p.edges.iter().zip(&p.w_lo) {
        let (lo, hi) = (lo as usize, hi as usize);
        played[lo] += n;
        played[hi] += n;
        won[lo] += w;
        won[hi] += n - w;
        if w > 0.0 {
            beat.push((lo, hi));
            beaten.push((hi, lo));
        }
        if n - w > 0.0 {
            beat.push((hi, lo));
            beaten.push((lo, hi));
        }
    }
    let which = |f: &dyn Fn(usize) -> bool| (0..n_items).filter(|&i| f(i)).collect::<Vec<_>>();
    let none = which(&|i| played[i] == 0.0);
    if !none.is_empty() {
        return Some(format!("{} never compared", describe(&none)));
    }
    let never_won = which(&|i| won[i] == 0.0);
    if !never_won.is_empty() {
        return Some(format!("{} never won (strength → 0)", describe(&never_won)));
    }
    let never_lost = which(&|i| won[i] == played[i]);
    if !never_lost.is_empty() {
        return Some(format!(
            "{} never lost (strength → ∞)",
            describe(&never_lost)
        ));
    }
    let fwd = reach(n_items, &beat);
    if let Some(r) = fwd.iter().position(|&s| !s) {
        return Some(format!(
            "the win graph is not strongly connected: no chain 'item 0 beat … beat item {r}'"
        ));
    }
    let back = reach(n_items, &beaten);
    if let Some(r) = back.iter().position(|&s| !s) {
        return Some(format!(
            "the win graph is not strongly connected: no chain 'item {r} beat … beat item 0'"
        ));
    }
    None
}
