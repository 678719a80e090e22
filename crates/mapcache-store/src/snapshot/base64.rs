//! Standard base64 (RFC 4648 §4) with `=` padding, for the byte strings of a snapshot
//! entry in `"encoding":"base64"`: the `base64` crate's `STANDARD` engine, which decodes
//! the canonical form only (padding required, no stray bits), so a byte string has
//! one text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Appends the base64 text of `data` to `out`.
pub(super) fn encode(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len().div_ceil(3) * 4, 0);
    let written = STANDARD
        .encode_slice(data, &mut out[start..])
        .expect("the buffer holds the padded encoding");
    out.truncate(start + written);
}

/// The bytes of canonical base64 `text`; `Err` for anything else.
pub(super) fn decode(text: &[u8]) -> Result<Vec<u8>, ()> {
    STANDARD.decode(text).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(data: &[u8]) -> String {
        let mut out = Vec::new();
        encode(data, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(enc(plain.as_bytes()), coded);
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
        }
        assert_eq!(enc(&[0xff, 0xfe, 0x00]), "//4A");
    }

    #[test]
    fn refuses_non_canonical() {
        for bad in [
            "Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zm 9", "=Zm9",
            "Zm=v",
        ] {
            assert!(decode(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
