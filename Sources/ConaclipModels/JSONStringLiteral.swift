/// The one way conaclip writes a JSON string literal (safetensors headers,
/// config.json, tokenizer files, manifests, metrics logs): quotes,
/// backslashes and control characters escaped as serde_json and Python's
/// `json.dumps(..., ensure_ascii=False)` escape them, plus U+2028/U+2029
/// (line and paragraph separators, which line-oriented readers such as
/// Python's `splitlines` would split a JSONL record on); everything else is
/// written as UTF-8.
public enum JSONStringLiteral {
    /// `text` as a quoted JSON string literal.
    public static func quoted(_ text: String) -> String {
        var out = ""
        append(text, to: &out)
        return out
    }

    /// Appends `text` as a quoted JSON string literal to `out`.
    public static func append(_ text: String, to out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
