//! Webhook signatures: `X-Hub-Signature-256` is `sha256=` and the hex
//! HMAC-SHA256 of the raw body, keyed with the webhook secret. The check is
//! constant-time (the `hmac` crate's `verify_slice`), and a header that is
//! missing, malformed or wrong is the same kind of failure to the caller.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery's signature was refused. Never holds the secret or the
/// expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the X-Hub-Signature-256 header is missing")]
    Missing,
    #[error("the X-Hub-Signature-256 header is not `sha256=` and 64 hex digits")]
    Malformed,
    #[error("the X-Hub-Signature-256 header does not match the body")]
    Mismatch,
}

/// Checks `header` (the value of `X-Hub-Signature-256`) against `body`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
    let given = parse_header(header)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// The signature bytes of a header that is present and well formed. The
/// daemon checks this before it reads a delivery's body, so a request
/// without a plausible signature never costs a 25 MB read.
pub fn parse_header(header: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?.trim();
    let hex = header
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    decode_hex(hex).ok_or(SignatureError::Malformed)
}

/// The header value GitHub would send for `body` (tests and tools use it).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in bytes {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    s.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // GitHub's published test vector:
    // https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    #[test]
    fn github_test_vector() {
        assert_eq!(verify(SECRET, BODY, Some(SIG)), Ok(()));
        assert_eq!(sign(SECRET, BODY), SIG);
        assert_eq!(
            verify(
                SECRET,
                BODY,
                Some(&SIG.to_uppercase().replace("SHA256=", "sha256="))
            ),
            Ok(())
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(verify(SECRET, BODY, None), Err(SignatureError::Missing));
        assert_eq!(parse_header(None), Err(SignatureError::Missing));
        assert!(parse_header(Some(SIG)).is_ok());
        for bad in [
            "",
            "sha1=abc",
            "sha256=",
            "sha256=zz",
            &SIG[..70],
            "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        ] {
            assert_eq!(
                verify(SECRET, BODY, Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
            assert_eq!(
                parse_header(Some(bad)),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(SECRET, b"Hello, World?", Some(SIG)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"another secret", BODY, Some(SIG)),
            Err(SignatureError::Mismatch)
        );
        let flipped = format!("{}0", &SIG[..SIG.len() - 1]);
        assert_eq!(
            verify(SECRET, BODY, Some(&flipped)),
            Err(SignatureError::Mismatch)
        );
    }
}
