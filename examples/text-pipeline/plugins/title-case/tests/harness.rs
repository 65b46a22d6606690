//! The plugin's extensions driven in process by the SDK's harness, through the same ABI
//! objects a host gets (no shared library needed).

use plugrack_sdk::{testing::Harness, ErrorKind, User, Value, Values};
use text_pipeline_api::{Finding, FormatterCalls, FormatterExt, LinterCalls, LinterExt};
use tp_title_case::{TitleCase, MAX_LINE};

#[test]
fn every_method_of_both_extension_points_round_trips() {
    let harness = Harness::<TitleCase>::load().unwrap();
    let formatter = harness.extension::<FormatterExt>().unwrap();
    assert_eq!(
        formatter.format("hello wide world".into()).unwrap(),
        "Hello Wide World"
    );
    assert_eq!(formatter.name().unwrap(), "title-case");

    let linter = harness.extension::<LinterExt>().unwrap();
    let long = "x".repeat(MAX_LINE + 1);
    let findings = linter
        .lint(format!("short\n{long}\nshort").as_str().into())
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(
        findings[0],
        Finding {
            line: 2,
            message: format!(
                "line is {} characters long; keep it to {MAX_LINE}",
                MAX_LINE + 1
            )
            .into()
        }
    );
    let refused = linter.lint("".into()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::INVALID_INPUT);
    assert_eq!(refused.message(), "there is no text to check");

    // Its own capability works beside the extensions.
    let out = harness
        .instance(User::new(1, "ada"))
        .unwrap()
        .execute(
            "stats",
            [("text".to_owned(), Value::Str("one two three".into()))].into(),
        )
        .unwrap();
    assert_eq!(out, Values::from([("words".to_owned(), Value::Int(3))]));
}
