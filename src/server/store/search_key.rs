//! Search keys: how people are found by name, whatever the case, accents or width they
//! typed. Every backend stores the key of each display name and folds the query the same way.

use icu_properties::props::GeneralCategory;
use icu_properties::CodePointMapData;

/// The form of a name that people search on: Unicode's compatibility caseless form
/// (NFKC, full case folding, NFKC again: Unicode 15, section 3.13, D146), then without
/// combining marks, so that "ÉLISE", "élise", "Élise" (typed composed or decomposed) and
/// "elise" are one key, like "Анна" and "анна", and "İpek" is found by "ipek". The query is
/// folded the same way and matched as a substring.
pub fn search_key(text: &str) -> String {
    use icu_normalizer::{ComposingNormalizerBorrowed, DecomposingNormalizerBorrowed};
    let nfkc = ComposingNormalizerBorrowed::new_nfkc();
    let composed = nfkc.normalize(text);
    let folded = icu_casemap::CaseMapper::new().fold_string(&composed);
    let caseless = nfkc.normalize(&folded);
    let marks = CodePointMapData::<GeneralCategory>::new();
    let bare: String = DecomposingNormalizerBorrowed::new_nfkd()
        .normalize(&caseless)
        .chars()
        .filter(|c| marks.get(*c) != GeneralCategory::NonspacingMark)
        .collect();
    nfkc.normalize(&bare).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_keys_fold_case_by_unicode_not_ascii() {
        assert_eq!(search_key("Élise Dupont"), search_key("ÉLISE DUPONT"));
        assert!(search_key("Élise Dupont").contains(&search_key("élise")));
        // Decomposed: E + COMBINING ACUTE ACCENT.
        assert!(search_key("Élise").contains(&search_key("E\u{301}lise")));
        assert!(search_key("Анна Петрова").contains(&search_key("АННА")));
        assert!(search_key("Анна Петрова").contains(&search_key("петрова")));
        assert_eq!(search_key("Straße"), search_key("STRASSE"));
        assert!(search_key("İpek Yılmaz").contains(&search_key("ipek")));
        assert!(search_key("Élise").contains(&search_key("elise")));
        // Compatibility characters fold to the plain letters' key.
        assert_eq!(search_key("ＥＬＩＳＥ"), search_key("elise"));
        assert_eq!(search_key("𝚨𝚲𝚽𝚨"), search_key("αλφα"));
    }
}
