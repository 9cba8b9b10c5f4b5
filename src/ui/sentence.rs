//! A sentence of the product's that names people or groups ("Ben declined the call."). The
//! names in it were marked with [`crate::domain::text::isolate`]; here each becomes a `<bdi>`, so a
//! right-to-left name, or one with stray direction marks, cannot reorder the product's
//! words around it, and the marks themselves are not left in the page's text.

use crate::domain::text::{FIRST_STRONG_ISOLATE, POP_ISOLATE};
use leptos::prelude::*;

/// The parts of `text`: `(false, words)` of the product's, `(true, name)` of a person's.
pub fn parts(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(FIRST_STRONG_ISOLATE) {
        if start > 0 {
            out.push((false, rest[..start].to_string()));
        }
        let after = &rest[start + FIRST_STRONG_ISOLATE.len_utf8()..];
        let end = after.find(POP_ISOLATE).unwrap_or(after.len());
        out.push((true, after[..end].to_string()));
        rest = after
            .get(end + POP_ISOLATE.len_utf8()..)
            .unwrap_or_default();
    }
    if !rest.is_empty() {
        out.push((false, rest.to_string()));
    }
    out
}

/// Renders `text`, with the names marked in it isolated as `<bdi>`.
#[component]
pub fn Sentence(#[prop(into)] text: String) -> impl IntoView {
    parts(&text)
        .into_iter()
        .map(|(name, part)| {
            if name {
                view! { <bdi>{part}</bdi> }.into_any()
            } else {
                part.into_any()
            }
        })
        .collect_view()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::isolate;

    #[test]
    fn names_marked_in_a_sentence_come_apart_from_its_words() {
        let text = format!("{} declined the call.", isolate("Eve\u{202E}"));
        assert_eq!(
            parts(&text),
            [
                (true, "Eve\u{202E}".to_string()),
                (false, " declined the call.".to_string())
            ]
        );
        assert_eq!(parts("No names."), [(false, "No names.".to_string())]);
    }
}
