//! Turning a file's bytes into text: size limit, byte-order marks (UTF-8, and the UTF-16 that
//! Windows PowerShell 5.1's `Out-File` writes by default), and refusal of binary data.

use super::error::{ErrorKind, Pos, TopologyError, TopologyErrors};

/// The largest topology file sfbpatch reads. The largest real estates export a few MiB.
pub const MAX_BYTES: u64 = 32 * 1024 * 1024;

fn not_text(file: &str) -> TopologyErrors {
    TopologyErrors::one(TopologyError::new(file, Pos::default(), ErrorKind::NotText))
}

/// Refuses a file over [`MAX_BYTES`] (the caller may know the size before reading).
pub fn check_size(file: &str, len: u64) -> Result<(), TopologyErrors> {
    if len > MAX_BYTES {
        return Err(TopologyErrors::one(TopologyError::new(
            file,
            Pos::default(),
            ErrorKind::TooLarge { limit_mib: MAX_BYTES / (1024 * 1024) },
        )));
    }
    Ok(())
}

/// Decodes a topology file's bytes: strips a UTF-8 BOM, decodes UTF-16 (either byte order)
/// when it starts with its BOM, and refuses anything that is not text.
pub fn decode(file: &str, bytes: &[u8]) -> Result<String, TopologyErrors> {
    check_size(file, bytes.len() as u64)?;
    let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        std::str::from_utf8(rest).map_err(|_| not_text(file))?.to_owned()
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(rest, u16::from_le_bytes).ok_or_else(|| not_text(file))?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(rest, u16::from_be_bytes).ok_or_else(|| not_text(file))?
    } else if looks_utf16(bytes) {
        return Err(TopologyErrors::one(TopologyError::new(file, Pos::default(), ErrorKind::Utf16WithoutBom)));
    } else {
        std::str::from_utf8(bytes).map_err(|_| not_text(file))?.to_owned()
    };
    if text.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
        return Err(not_text(file));
    }
    Ok(text)
}

/// Whether bytes without a byte-order mark have UTF-16's shape: in the first pairs, one byte of
/// (nearly) every pair NUL, always the same one (the high byte of ASCII text, little- or
/// big-endian). Such text is never UTF-8 sfbpatch reads (NUL is refused), so saying so costs
/// nothing and names the real cause (issue 13 item 10).
fn looks_utf16(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    let pairs = head.len() / 2;
    if pairs < 2 {
        return false;
    }
    let count = |zero: usize| head.chunks_exact(2).filter(|p| p[zero] == 0 && p[1 - zero] != 0).count();
    // Nine pairs in ten: room for a few characters outside Latin-1.
    [0, 1].into_iter().any(|zero| count(zero) * 10 >= pairs * 9)
}

fn utf16(bytes: &[u8], from: fn([u8; 2]) -> u16) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes.chunks_exact(2).map(|c| from([c[0], c[1]])).collect();
    String::from_utf16(&units).ok()
}

/// Line starts of a text, for turning byte offsets into line and column in O(log n).
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        Self { text, starts }
    }

    /// 1-based line and column (in characters) of byte offset `at`.
    pub fn pos(&self, at: usize) -> Pos {
        let mut at = at.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let line = self.starts.partition_point(|&s| s <= at).max(1);
        let start = self.starts[line - 1];
        let col = self.text.get(start..at).map_or(0, |s| s.chars().count()) + 1;
        Pos::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX))
    }
}

/// 1-based line and column (in characters) of byte offset `at` in `text`.
pub fn pos_at(text: &str, at: usize) -> Pos {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = text.get(..at).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos::new(u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_utf8_bom_and_decodes_utf16() {
        assert_eq!(decode("f", b"\xEF\xBB\xBF<a/>").ok().as_deref(), Some("<a/>"));
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain("<a/>".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decode("f", &le).ok().as_deref(), Some("<a/>"));
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("<a/>".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decode("f", &be).ok().as_deref(), Some("<a/>"));
    }

    #[test]
    fn utf16_without_its_mark_is_named() {
        let kind = |bytes: &[u8]| decode("f", bytes).err().map(|e| e.0[0].kind.clone());
        let le: Vec<u8> = "<Topology/>".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = "<Topology/>".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(kind(&le), Some(ErrorKind::Utf16WithoutBom));
        assert_eq!(kind(&be), Some(ErrorKind::Utf16WithoutBom));
        assert_eq!(kind(&[0x00, 0x01, 0xFF, 0x80]), Some(ErrorKind::NotText));
        assert_eq!(kind(b"<a/>"), None);
    }

    #[test]
    fn refuses_binary() {
        assert!(decode("f", &[0x00, 0x01, 0xFF, 0x80]).is_err());
        assert!(decode("f", b"<a>\x00</a>").is_err());
    }

    #[test]
    fn line_index_agrees_with_pos_at() {
        let t = "ab\ncñd\n\nxyz";
        let idx = LineIndex::new(t);
        for at in 0..=t.len() {
            assert_eq!(idx.pos(at), pos_at(t, at), "offset {at}");
        }
    }

    #[test]
    fn positions_are_one_based_lines_and_char_columns() {
        assert_eq!(pos_at("ab\ncñd", 6), Pos::new(2, 3));
        assert_eq!(pos_at("x", 0), Pos::new(1, 1));
    }
}
