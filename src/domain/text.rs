//! Rules for text people type that other people see: what counts as visible, which
//! characters may reorder the text around them, and how a name is set apart from the
//! product's own words when it is shown inside a sentence. Shared by the server (which
//! decides) and the browser (which checks before sending and shows the text).
//!
//! The character classes are Unicode's own (UAX #44 properties, read through ICU4X):
//! General_Category, Default_Ignorable_Code_Point and Bidi_Control.

use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint, GeneralCategory};
use icu_properties::{CodePointMapData, CodePointSetData};

/// U+2068 FIRST STRONG ISOLATE: opens a run whose direction comes from its own text
/// (UAX #9, section 2.7); [`POP_ISOLATE`] closes it.
pub const FIRST_STRONG_ISOLATE: char = '\u{2068}';
/// U+2069 POP DIRECTIONAL ISOLATE: closes an isolate and every embedding or override
/// opened inside it (UAX #9, rule X6a).
pub const POP_ISOLATE: char = '\u{2069}';

/// Whether a character draws something a reader can see: a letter, digit, punctuation mark
/// or symbol (emoji included), or a character this build's Unicode data does not know yet
/// (a newer emoji) or a private-use one (a font's own symbol), which may well draw something.
/// Spaces, line breaks, format and control characters, lone combining marks, and the
/// default-ignorable characters that fonts draw as nothing (U+200B ZERO WIDTH SPACE,
/// U+3164 HANGUL FILLER, variation selectors, ...) are not; nor is U+2800 BRAILLE PATTERN
/// BLANK, a symbol that draws an empty cell.
pub fn is_visible(c: char) -> bool {
    use GeneralCategory as G;
    if c == '\u{2800}' || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        return false;
    }
    !matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        G::SpaceSeparator
            | G::LineSeparator
            | G::ParagraphSeparator
            | G::Control
            | G::Format
            | G::Surrogate
            | G::NonspacingMark
            | G::EnclosingMark
            | G::SpacingMark
    )
}

/// Whether the text has at least one visible character (see [`is_visible`]).
pub fn has_visible(text: &str) -> bool {
    text.chars().any(is_visible)
}

/// Whether the text holds a character that changes the direction of the text around it
/// (Unicode's Bidi_Control: U+061C, U+200E/F, U+202A to U+202E, U+2066 to U+2069). In a
/// name such a character can make the sentence it is shown in read backwards.
pub fn has_bidi_control(text: &str) -> bool {
    let bidi = CodePointSetData::new::<BidiControl>();
    text.chars().any(|c| bidi.contains(c))
}

/// User text set apart for use inside a sentence of the product's ("{name} is typing…"):
/// wrapped in a first-strong isolate, so that a right-to-left name, or one with stray
/// direction marks, cannot reorder the words around it. The text equivalent of `<bdi>`.
pub fn isolate(user_text: &str) -> String {
    let mut out = String::with_capacity(user_text.len() + 6);
    out.push(FIRST_STRONG_ISOLATE);
    // Isolate marks of its own (in a name from before names were checked) would end the
    // isolate early.
    out.extend(
        user_text
            .chars()
            .filter(|c| *c != FIRST_STRONG_ISOLATE && *c != POP_ISOLATE),
    );
    out.push(POP_ISOLATE);
    out
}

/// The text without the isolate marks of [`isolate`], for where no `<bdi>` can be (a
/// tooltip, a desktop notification).
pub fn plain(text: &str) -> String {
    text.replace([FIRST_STRONG_ISOLATE, POP_ISOLATE], "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_only_invisible_characters_has_nothing_visible() {
        for text in [
            "\u{200B}",
            " \u{200B} \u{200C}\u{200D}\u{FEFF}",
            "\u{3164}",
            "\u{2800}\u{2800}",
            "\u{202E}",
            "\u{2066}\u{2069}",
            "\u{FE0F}",
            "\u{0301}",
            "\t\n\u{00A0}\u{2028}",
        ] {
            assert!(!has_visible(text), "{text:?} was taken as visible");
        }
    }

    #[test]
    fn letters_digits_punctuation_and_emoji_are_visible() {
        for text in [
            "a",
            "É",
            "Анна",
            "שלום",
            "7",
            "!",
            "😀",
            "👍🏽",
            "中文",
            "x\u{200B}",
        ] {
            assert!(has_visible(text), "{text:?} was taken as invisible");
        }
    }

    #[test]
    fn direction_controls_are_found() {
        assert!(has_bidi_control("Eve\u{202E}"));
        assert!(has_bidi_control("\u{200F}Dana"));
        assert!(has_bidi_control("a\u{2066}b"));
        assert!(!has_bidi_control("שלום Eve"));
    }

    #[test]
    fn an_isolated_name_is_wrapped_in_a_first_strong_isolate() {
        assert_eq!(isolate("Eve"), "\u{2068}Eve\u{2069}");
        assert_eq!(isolate("E\u{2069}ve"), "\u{2068}Eve\u{2069}");
    }
}
