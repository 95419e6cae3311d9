//! CSV exports as spreadsheets and POS back offices save them: the encoding (a BOM, UTF-8,
//! UTF-16 with or without a BOM, else Windows-1252, decoded by `encoding_rs`), Excel's
//! `sep=;` line, the delimiter (`,` `;` tab `|`) and quote (`"` or `'`) sniffed from the
//! first rows; CRLF and quoted newlines are the `csv` crate's. What was detected is named
//! in every error, so an unreadable file says how it was read.

use std::fmt;

/// How a CSV file was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The text encoding ("UTF-8", "UTF-16LE", "windows-1252").
    pub encoding: &'static str,
    /// A byte-order mark was present.
    pub bom: bool,
    /// The field delimiter.
    pub delimiter: u8,
    /// The quote character.
    pub quote: u8,
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match self.delimiter {
            b',' => "comma ','".to_owned(),
            b';' => "semicolon ';'".to_owned(),
            b'\t' => "tab".to_owned(),
            b'|' => "pipe '|'".to_owned(),
            other => format!("{:?}", other as char),
        };
        write!(
            f,
            "{}{}, delimiter {d}, quote {:?}",
            self.encoding,
            if self.bom { " with BOM" } else { "" },
            self.quote as char
        )
    }
}

/// A CSV file read: its header, its rows (blank lines skipped) and how it was read.
#[derive(Debug, Clone)]
pub struct CsvTable {
    /// The header row's cells.
    pub header: Vec<String>,
    /// The data rows; a row may be shorter than the header, never longer.
    pub rows: Vec<Vec<String>>,
    /// How the file was read.
    pub dialect: Dialect,
}

const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];
/// Rows read to sniff the delimiter.
const SNIFF_ROWS: usize = 50;

/// Reads a CSV export from its bytes.
///
/// # Errors
///
/// A message naming what was detected (encoding, delimiter, quote) and what is wrong: not
/// text, empty, a quoted field not terminated, a row with more fields than the header.
pub fn read_csv(bytes: &[u8]) -> Result<CsvTable, String> {
    let (text, encoding, bom) = decode(bytes)?;
    let (text, declared) = excel_separator_line(&text);
    let quote = sniff_quote(text);
    let delimiter = declared.unwrap_or_else(|| sniff_delimiter(text, quote));
    let dialect = Dialect {
        encoding,
        bom,
        delimiter,
        quote,
    };
    if unterminated_quote(text, delimiter, quote) {
        return Err(format!(
            "a quoted field is not terminated (read as {dialect})"
        ));
    }
    let mut reader = reader(text, delimiter, quote);
    let mut records = reader.records();
    let header: Vec<String> = match records.next() {
        // As written (CLI.md: a CSV source path is the header text as written).
        Some(Ok(r)) => r.iter().map(str::to_owned).collect(),
        Some(Err(e)) => return Err(format!("the header does not read: {e} (read as {dialect})")),
        None => return Err(format!("the CSV file is empty (read as {dialect})")),
    };
    let mut rows = Vec::new();
    for (n, record) in records.enumerate() {
        let record = record.map_err(|e| format!("row {}: {e} (read as {dialect})", n + 2))?;
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() > header.len() {
            return Err(format!(
                "row {} has {} fields, the header has {} (read as {dialect})",
                n + 2,
                record.len(),
                header.len()
            ));
        }
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(CsvTable {
        header,
        rows,
        dialect,
    })
}

fn reader(text: &str, delimiter: u8, quote: u8) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .quote(quote)
        .from_reader(text.as_bytes())
}

/// The text, its encoding and whether a BOM was present.
fn decode(bytes: &[u8]) -> Result<(String, &'static str, bool), String> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        return enc
            .decode_without_bom_handling_and_without_replacement(&bytes[bom_len..])
            .map(|t| (t.into_owned(), enc.name(), true))
            .ok_or_else(|| format!("the file starts with a {} BOM but is not {0}", enc.name()));
    }
    if let Ok(t) = std::str::from_utf8(bytes)
        && !t.contains('\0')
    {
        return Ok((t.to_owned(), "UTF-8", false));
    }
    if let Some(enc) = utf16_without_bom(bytes) {
        return enc
            .decode_without_bom_handling_and_without_replacement(bytes)
            .map(|t| (t.into_owned(), enc.name(), false))
            .ok_or_else(|| format!("the file looks like {} but does not decode", enc.name()));
    }
    if bytes.contains(&0) {
        return Err("not a text file: NUL bytes, and neither UTF-8 nor UTF-16".into());
    }
    // Not UTF-8: a legacy spreadsheet encoding; Windows-1252 maps every byte.
    let (t, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
    Ok((t.into_owned(), encoding_rs::WINDOWS_1252.name(), false))
}

/// Whether a field opened with `quote` runs to the end of the text (a quote inside an
/// unquoted field, as in `12" pizza`, is text).
fn unterminated_quote(text: &str, delimiter: u8, quote: u8) -> bool {
    let (mut quoted, mut field_start) = (false, true);
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        if quoted {
            if b == quote {
                if bytes.peek() == Some(&quote) {
                    bytes.next();
                } else {
                    quoted = false;
                }
            }
            continue;
        }
        if b == quote && field_start {
            quoted = true;
        }
        field_start = b == delimiter || b == b'\n' || b == b'\r';
    }
    quoted
}

/// UTF-16 without a BOM: ASCII text has a NUL in every other byte.
fn utf16_without_bom(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    if bytes.len() < 4 || bytes.len() % 2 == 1 {
        return None;
    }
    let pairs = bytes.len() / 2;
    let high_zero = bytes.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let low_zero = bytes.iter().step_by(2).filter(|b| **b == 0).count();
    if high_zero * 10 >= pairs * 7 && low_zero * 10 < pairs {
        Some(encoding_rs::UTF_16LE)
    } else if low_zero * 10 >= pairs * 7 && high_zero * 10 < pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Excel's first line `sep=;` names the delimiter; the rest of the text and it.
fn excel_separator_line(text: &str) -> (&str, Option<u8>) {
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let first = first.trim_end_matches('\r');
    match first.strip_prefix("sep=").map(str::as_bytes) {
        Some([d]) if d.is_ascii() => (rest, Some(*d)),
        _ => (text, None),
    }
}

/// `'` when fields are quoted with it and never with `"`; `"` otherwise.
fn sniff_quote(text: &str) -> u8 {
    let head: String = text.chars().take(20_000).collect();
    if head.contains('"') {
        return b'"';
    }
    let single_quoted = DELIMITERS.iter().any(|d| {
        let d = *d as char;
        head.contains(&format!("{d}'"))
            && (head.contains(&format!("'{d}")) || head.contains("'\n") || head.contains("'\r"))
    });
    if single_quoted { b'\'' } else { b'"' }
}

/// The delimiter that splits the first rows most consistently into the most columns
/// (comma when no candidate gives two columns).
fn sniff_delimiter(text: &str, quote: u8) -> u8 {
    let mut best = (b',', 0usize, 0usize);
    for d in DELIMITERS {
        let mut rdr = reader(text, d, quote);
        let mut lens = rdr
            .records()
            .take(SNIFF_ROWS)
            .filter_map(Result::ok)
            .filter(|r| !r.iter().all(|c| c.trim().is_empty()))
            .map(|r| r.len());
        let Some(width) = lens.next() else {
            continue;
        };
        if width < 2 {
            continue;
        }
        let (mut rows, mut consistent) = (1usize, 1usize);
        for len in lens {
            rows += 1;
            consistent += usize::from(len == width);
        }
        // Rows that agree with the header, in per mille; then the wider reading.
        let score = consistent * 1000 / rows;
        if (score, width) > (best.1, best.2) {
            best = (d, score, width);
        }
    }
    best.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_delimiters_and_reads_quoted_newlines() {
        let t =
            read_csv(b"Handle;Title;Variant SKU;Variant Price\r\nwool;Wool;S-1;12,00\r\n").unwrap();
        assert_eq!(
            t.header,
            ["Handle", "Title", "Variant SKU", "Variant Price"]
        );
        assert_eq!(t.rows[0][3], "12,00");
        assert_eq!(t.dialect.delimiter, b';');
        let t = read_csv(b"a\tb\n1\t\"x\ny\"\n").unwrap();
        assert_eq!(
            (t.dialect.delimiter, t.rows[0][1].as_str()),
            (b'\t', "x\ny")
        );
        let t = read_csv(b"a|b|c\n1|2|3\n").unwrap();
        assert_eq!(t.dialect.delimiter, b'|');
        // A comma file whose text has semicolons stays a comma file.
        let t = read_csv(b"id,name,price\n1,\"Tea; green\",2.50\n2,Coffee,3\n").unwrap();
        assert_eq!(
            (t.dialect.delimiter, t.rows[0][1].as_str()),
            (b',', "Tea; green")
        );
        let t = read_csv(b"sep=;\r\na;b\r\n1,5;2\r\n").unwrap();
        assert_eq!((t.header.len(), t.rows[0][0].as_str()), (2, "1,5"));
        let t = read_csv(b"id,name\n1,'Tea, green'\n").unwrap();
        assert_eq!(t.rows[0][1], "Tea, green");
    }

    #[test]
    fn decodes_boms_utf16_and_windows_1252() {
        let t = read_csv("\u{feff}Name,Preis\nKäse,\"3,50\"\n".as_bytes()).unwrap();
        assert_eq!((t.header[0].as_str(), t.dialect.bom), ("Name", true));
        let utf16: Vec<u8> = "Name;Preis\r\nKäse;3,50\r\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let with_bom = [&[0xff, 0xfe][..], &utf16].concat();
        for bytes in [&utf16, &with_bom] {
            let t = read_csv(bytes).unwrap();
            assert_eq!(t.dialect.encoding, "UTF-16LE");
            assert_eq!(t.rows[0], ["Käse", "3,50"]);
        }
        let t = read_csv(b"Name;Preis\r\nK\xe4se \x80;3,50\r\n").unwrap();
        assert_eq!(t.dialect.encoding, "windows-1252");
        assert_eq!(t.rows[0][0], "Käse €");
    }

    #[test]
    fn unreadable_files_say_what_was_detected() {
        let e = read_csv(b"a;b\n1;2;3\n").unwrap_err();
        assert!(e.contains("semicolon") && e.contains("row 2"), "{e}");
        let e = read_csv(b"a,b\n\"unterminated").unwrap_err();
        assert!(e.contains("not terminated") && e.contains("UTF-8"), "{e}");
        assert!(read_csv(b"").unwrap_err().contains("empty"));
        assert!(read_csv(b"\x00\x01\x02").is_err());
    }
}
