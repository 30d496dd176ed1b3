//! Results as JSON records, and the Markdown table written into `BENCHMARKS.md`.

use serde::{Deserialize, Serialize};

/// Start marker of the generated section of `BENCHMARKS.md`.
pub const BEGIN: &str = "<!-- codec:begin -->";
/// End marker of the generated section of `BENCHMARKS.md`.
pub const END: &str = "<!-- codec:end -->";

/// One measured (case, codec, operation, implementation).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    /// `a`, `b`, `c` or `d` (see [`crate::fixtures`]).
    pub case: String,
    /// `common`, `msgpack` or `engine`.
    pub codec: String,
    /// `encode`, `encode_typed`, `decode` or `decode_read`.
    pub op: String,
    /// `ours`, `socketioxide` or `node`.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// Median ns per operation.
    pub ns: f64,
}

/// What the Node script prints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NodeResults {
    /// `process.version`.
    #[serde(default)]
    pub node: String,
    /// Package name -> version actually loaded.
    #[serde(default)]
    pub packages: Vec<(String, String)>,
    /// Node only has one encode and one decode per codec: its encoder always starts from
    /// JS objects, and its decoder always builds JS objects (`JSON.parse`). They are reported
    /// as `encode` and `decode`.
    pub results: Vec<Record>,
}

/// Facts about the run printed above the table.
#[derive(Debug, Clone, Default)]
pub struct Meta {
    /// `date -u` of the run.
    pub date: String,
    /// `nproc`.
    pub nproc: String,
    /// `rustc --version`.
    pub rustc: String,
    /// The command that reproduces the table.
    pub command: String,
    /// The commit measured (`+dirty` if the work tree differed).
    pub commit: String,
    /// Peer crate versions (name, version).
    pub crates: Vec<(String, String)>,
}

const CASES: [(&str, &str); 4] = [
    ("a", "(a) `42[\"chat\",{…}]`"),
    ("b", "(b) event + 2×1 KiB binary"),
    ("c", "(c) 10 KB JSON event"),
    ("d", "(d) v4 polling payload, 10 packets"),
];
const CODECS: [&str; 3] = ["common", "msgpack", "engine"];
const OPS: [(&str, &str, &str); 4] = [
    ("encode", "encode (prebuilt packet)", "encode"),
    ("encode_typed", "encode from typed args", "encode"),
    ("decode", "decode", "decode"),
    ("decode_read", "decode + read args", "decode"),
];

fn find(records: &[Record], case: &str, codec: &str, op: &str, who: &str) -> Option<f64> {
    records
        .iter()
        .find(|r| r.case == case && r.codec == codec && r.op == op && r.implementation == who)
        .map(|r| r.ns)
}

fn ns(value: Option<f64>) -> String {
    match value {
        None => "–".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn ratio(theirs: Option<f64>, ours: Option<f64>, star: bool) -> String {
    match (theirs, ours) {
        (Some(t), Some(o)) if o > 0.0 => {
            let r = t / o;
            let text = format!("{r:.2}×");
            if star && r < 1.0 {
                format!("**{text}**")
            } else {
                text
            }
        }
        _ => "–".into(),
    }
}

/// The generated section (markers included).
pub fn render(meta: &Meta, rust: &[Record], node: &NodeResults) -> String {
    let mut out = String::new();
    out.push_str(BEGIN);
    out.push('\n');
    out.push_str(&format!(
        "Measured {} at commit `{}` on a {}-core machine (`nproc`), `{}`, Node {}.\n",
        meta.date, meta.commit, meta.nproc, meta.rustc, node.node
    ));
    let crates: Vec<String> = meta
        .crates
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    let packages: Vec<String> = node
        .packages
        .iter()
        .map(|(n, v)| format!("{n} {v}"))
        .collect();
    out.push_str(&format!(
        "Peers: {}; {}.\n\n",
        crates.join(", "),
        packages.join(", ")
    ));
    out.push_str(&format!("Reproduce with `{}`.\n\n", meta.command));
    out.push_str(
        "| case | codec | operation | ours ns/op | socketioxide ns/op | Node ns/op \
         | socketioxide ÷ ours | Node ÷ ours |\n",
    );
    out.push_str("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (case, case_label) in CASES {
        for codec in CODECS {
            for (op, op_label, node_op) in OPS {
                let ours = find(rust, case, codec, op, "ours");
                let theirs = find(rust, case, codec, op, "socketioxide");
                let js = find(&node.results, case, codec, node_op, "node");
                if ours.is_none() && theirs.is_none() {
                    continue;
                }
                // The engine payload has no serde layer: plain encode / decode.
                let op_label = if codec == "engine" { op } else { op_label };
                out.push_str(&format!(
                    "| {case_label} | {codec} | {op_label} | {} | {} | {} | {} | {} |\n",
                    ns(ours),
                    ns(theirs),
                    ns(js),
                    ratio(theirs, ours, true),
                    ratio(js, ours, false),
                ));
            }
        }
    }
    out.push_str(
        "\nRatios are the peer's time divided by ours: above 1 we are faster; **bold** marks \
         a path where socketioxide is faster. Node's encoder always starts from JS objects and \
         its decoder always builds them (`JSON.parse` / msgpack decode), so its single encode \
         and decode timing is shown on both rows of each pair.\n",
    );
    // Informational contenders: our older tree paths, and serde_json off our validated text.
    const ALTERNATIVES: [(&str, &str, &str); 4] = [
        (
            "encode",
            "ours_value",
            "encode a prebuilt packet holding a `Value` tree (`value::to_value`)",
        ),
        (
            "encode_typed",
            "ours_value",
            "encode from typed args via the `Value` tree (`value::to_value` + encode)",
        ),
        (
            "decode_read",
            "ours_value",
            "decode + read args via the `Value` tree (`json::parse` + `value::from_value`)",
        ),
        (
            "decode_read",
            "ours_serde_json",
            "decode + `serde_json::from_slice` off the validated `Payload::Json` text",
        ),
    ];
    let mut rows = Vec::new();
    for (op, who, label) in ALTERNATIVES {
        for (case, case_label) in CASES {
            let Some(alt) = find(rust, case, "common", op, who) else {
                continue;
            };
            let ours = find(rust, case, "common", op, "ours");
            let theirs = find(rust, case, "common", op, "socketioxide");
            rows.push(format!(
                "| {case_label} | {label} | {} | {} | {} |\n",
                ns(Some(alt)),
                ratio(Some(alt), ours, false),
                ratio(theirs, Some(alt), true)
            ));
        }
    }
    if !rows.is_empty() {
        out.push_str(
            "\nFor information (common parser, not the API path of the table above): the \
             paths our rows used before the one-pass typed JSON paths, and serde_json. \
             \"this ÷ ours\" is how much slower that path is than the row above.\n\n\
             | case | path | ns/op | this ÷ ours | socketioxide ÷ this |\n\
             | --- | --- | ---: | ---: | ---: |\n",
        );
        rows.iter().for_each(|row| out.push_str(row));
    }
    out.push_str(END);
    out
}

/// Replaces the generated section of `document` (or appends it if the markers are missing).
pub fn splice(document: &str, section: &str) -> String {
    match (document.find(BEGIN), document.find(END)) {
        (Some(begin), Some(end)) if end > begin => {
            let mut out = String::with_capacity(document.len() + section.len());
            out.push_str(&document[..begin]);
            out.push_str(section);
            out.push_str(&document[end + END.len()..]);
            out
        }
        _ => {
            let mut out = document.to_owned();
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push('\n');
            out.push_str(section);
            out.push('\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_replaces_between_markers() {
        let doc = format!("head\n{BEGIN}\nold\n{END}\ntail\n");
        let out = splice(&doc, &format!("{BEGIN}\nnew\n{END}"));
        assert_eq!(out, format!("head\n{BEGIN}\nnew\n{END}\ntail\n"));
    }

    #[test]
    fn ratio_marks_slower_paths() {
        assert_eq!(ratio(Some(150.0), Some(100.0), true), "1.50×");
        assert_eq!(ratio(Some(50.0), Some(100.0), true), "**0.50×**");
    }
}
