//! A guard in front of the protocol library's reader: only well-formed messages get through.
//!
//! `tower-lsp-server` reads `Content-Length`-framed JSON-RPC from stdin, but its reader stops
//! for good at the first frame it cannot decode (a stream that fails once is finished), so one
//! malformed message from a client would end the session. [`sanitize`] reads the frames
//! itself and forwards only those that decode as a request, notification or response; the
//! others are logged and dropped, and a frame with a broken header is skipped up to the next
//! header. The library then only ever sees valid input.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tower_lsp_server::jsonrpc::{Request, Response};

/// The largest message accepted. Larger frames are skipped instead of allocated.
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;

/// Copies well-formed frames from `input` to `output` until `input` ends.
pub async fn sanitize(
    mut input: impl AsyncBufRead + Unpin,
    mut output: impl AsyncWrite + Unpin,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    loop {
        // Headers: lines up to an empty one. Blank lines before the first header are noise.
        let mut length: Option<usize> = None;
        let mut headers = 0;
        loop {
            line.clear();
            if input.read_until(b'\n', &mut line).await? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                if headers > 0 {
                    break;
                }
                continue;
            }
            headers += 1;
            if let Some((name, value)) = text.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok();
                }
            }
        }
        let Some(length) = length.filter(|l| *l <= MAX_MESSAGE) else {
            tracing::warn!("skipping a message without a valid Content-Length header");
            continue;
        };
        let mut body = vec![0; length];
        input.read_exact(&mut body).await?;
        if !is_message(&body) {
            tracing::warn!(bytes = length, "dropping a message that is not JSON-RPC");
            continue;
        }
        output
            .write_all(format!("Content-Length: {length}\r\n\r\n").as_bytes())
            .await?;
        output.write_all(&body).await?;
        output.flush().await?;
    }
}

/// Whether a body decodes as the protocol library expects: a request (or notification), or a
/// response to one of the server's requests.
fn is_message(body: &[u8]) -> bool {
    serde_json::from_slice::<Request>(body).is_ok() || serde_json::from_slice::<Response>(body).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn passes_messages_and_drops_garbage() {
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;
        let input = [
            frame("{ not json"),
            frame("[1, 2, 3]"),
            "Content-Length: nope\r\n\r\n".to_string(),
            "X-Other: 1\r\n\r\n".to_string(),
            frame(good),
        ]
        .concat();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut out = Vec::new();
        runtime.block_on(sanitize(input.as_bytes(), &mut out)).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), frame(good));
    }
}
