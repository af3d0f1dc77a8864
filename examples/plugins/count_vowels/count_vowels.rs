// count_vowels (Rust): counts the input bytes that appear in the `vowels` config (default
// "aeiouAEIOU"), adds the count to the var `total` (kept as decimal text) and outputs
// {"count":N,"total":N,"vowels":"..."}. count_vowels.c does the same and must give
// byte-identical outputs, so the rules here (bytes, not characters; the 1024-byte limit; the
// JSON escaping; the error texts) follow it exactly.

#[allow(dead_code)]
#[macro_use]
#[path = "../../../pdk/rust/kiln_pdk.rs"]
mod kiln_pdk;

use kiln_pdk::Error;

const MAX_VOWELS: usize = 1024;

/// JSON string contents with the C version's escaping: quote and backslash escaped, control
/// bytes as \u00xx, every other byte as it is.
fn push_json_escaped(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &c in s {
        match c {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', c]),
            0..=0x1f => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(c >> 4) as usize],
                                                HEX[(c & 15) as usize]]),
            _ => out.push(c),
        }
    }
}

kiln_export! {
    fn count_vowels(input: Vec<u8>) -> Result<Vec<u8>, Error> {
        let vowels = kiln_pdk::config_get_bytes("vowels").unwrap_or_else(|| b"aeiouAEIOU".to_vec());
        if vowels.len() > MAX_VOWELS {
            return Err("config `vowels` is longer than 1024 bytes".into());
        }
        let mut is_vowel = [false; 256];
        for &b in &vowels {
            is_vowel[b as usize] = true;
        }
        let count = input.iter().filter(|&&b| is_vowel[b as usize]).count() as i64;

        // Like the C version: unset starts at 0, anything but a decimal i64 of at most 20 bytes
        // is an error.
        let total = match kiln_pdk::var_get("total") {
            None => 0,
            Some(text) => match kiln_pdk::parse_i64(&text) {
                Some(n) if text.len() <= 20 => n,
                _ => return Err("var `total` is not a decimal number".into()),
            },
        }
        .wrapping_add(count);
        kiln_pdk::var_set_i64("total", total)?;

        let mut out =
            format!("{{\"count\":{},\"total\":{},\"vowels\":\"", count, total).into_bytes();
        push_json_escaped(&mut out, &vowels);
        out.extend_from_slice(b"\"}");
        Ok(out)
    }
}
