//! Symbol names as the profiles group them (shared by `profile` and `alloc-profile`).

/// `f<A, B>` -> `f`, `<T as U<V>>::g<W>` -> `<T as U>::g` (names become groupable).
pub fn strip_generics(name: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut prev = ' ';
    for c in name.chars() {
        match c {
            '<' if depth > 0 || prev.is_alphanumeric() || prev == '_' || prev == '}' => depth += 1,
            '>' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            c => out.push(c),
        }
        if depth == 0 && c != '>' {
            prev = c;
        }
    }
    // Symbol hashes (`::h0123456789abcdef`).
    if let Some(i) = out.rfind("::h") {
        let h = &out[i + 3..];
        if h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()) {
            out.truncate(i);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_generics_and_hashes() {
        assert_eq!(strip_generics("get<u8, Vec<u8>>"), "get");
        assert_eq!(
            strip_generics("<std::net::TcpStream as std::io::Write>::write"),
            "<std::net::TcpStream as std::io::Write>::write"
        );
        assert_eq!(
            strip_generics("<alloc::boxed::Box<dyn Fn()> as FnOnce<()>>::call_once"),
            "<alloc::boxed::Box as FnOnce>::call_once"
        );
        assert_eq!(strip_generics("a::b::h0123456789abcdef"), "a::b");
    }
}
